#!/usr/bin/env bash
# End-to-end training throughput: flowssl train vs the PyTorch baseline loop
# (bench/train_baseline.py: torchvision + DataLoader with the same workers,
# the same libtorch threads), SimCLR and MoCo v2 with ResNet-18 at 96 and
# 224 px crops on a folder of ImageNet-like JPEGs, measured back to back.
# flowssl's figure is the mean img_s of its log lines after the first
# (the first holds start-up) in its JSON log; the bottleneck column is its
# own verdict over the last interval.
#
# MoCo v2 runs with shuffle_bn_groups=1, MMSelfSup's own single-process
# step (its batch shuffle is a no-op on one GPU), which is what the
# baseline runs; flowssl's default two-group emulation costs a second,
# half-batch key pass.
#
# usage: scripts/bench-train.sh [DATA] ; env: WORKERS (2) THREADS (1) ITERS (30) SIZES ("96 224") ALGOS
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=./bin/flowssl
DATA=${1:-${BENCH_DATA:-work_dirs/bench_jpegs}}
WORKERS=${WORKERS:-2}
THREADS=${THREADS:-1}
ITERS=${ITERS:-30}
LOG=${LOG_EVERY:-5}
SIZES=${SIZES:-"96 224"}
ALGOS=${ALGOS:-"simclr mocov2"}
[ -d "$DATA" ] || $BIN bench augment --data "$DATA" --generate 500 --seconds 1 >/dev/null
n=$(find "$DATA" -type f | wc -l)
epochs=$(( (ITERS * 32 + n - 1) / n ))
echo "date: $(date -u +%F)  cpu: $(lscpu | sed -n 's/^Model name: *//p') x $(nproc --all)  torch: $(/usr/bin/python3 -c 'import torch;print(torch.__version__)')"
echo "data: $DATA ($n JPEGs)  batch 32  workers $WORKERS  threads $THREADS  iters $ITERS"
printf '%-7s %5s %12s %12s %7s %14s %7s  %s\n' algo size flowssl_img_s torch_img_s ratio torch_flowset ratio bottleneck
for algo in $ALGOS; do
  case $algo in
    simclr) cfg=configs/selfsup/simclr/simclr_resnet50_8xb32-coslr-200e_in1k.yaml; neck="model.neck.in_channels=512" ;;
    mocov2) cfg=configs/selfsup/mocov2/mocov2_resnet50_8xb32-coslr-200e_in1k.yaml; neck="model.neck.in_channels=512 model.neck.hid_channels=512 model.shuffle_bn_groups=1" ;;
  esac
  for size in $SIZES; do
    wd=$(mktemp -d)
    # shellcheck disable=SC2086
    $BIN train "$cfg" --work-dir "$wd" --workers "$WORKERS" --threads "$THREADS" --seed 1 \
      --cfg-options model.backbone.depth=18 $neck data.samples_per_gpu=32 data.drop_last=True \
      data.train.data_source.data_prefix="$DATA" data.train.data_source.ann_file= \
      data.train.pipelines.0.0.size="$size" runner.max_epochs="$epochs" log_config.interval="$LOG" \
      checkpoint_config.interval=100000 >"$wd/out.log" 2>&1 || { cat "$wd/out.log"; exit 1; }
    read -r ours bott < <(python3 - "$ITERS" "$wd"/*.log.json <<'PY'
import json, sys
rows = []
for line in open(sys.argv[2]):
    line = line.strip()
    if line.startswith('{'):
        try:
            d = json.loads(line)
        except ValueError:
            continue
        if d.get('message') == 'train' and 'img_s' in d and d.get('iter', 0) <= int(sys.argv[1]):
            rows.append(d)
rows = rows[1:] or rows
print(f"{sum(r['img_s'] for r in rows) / len(rows):.1f}", (rows[-1].get('bottleneck') or '-').replace(' ', '_'))
PY
)
    # The baseline as a PyTorch user runs it (libgomp's and OpenBLAS's defaults, NCHW), and with
    # the settings flowssl chooses for itself on the CPU (model.RecommendedEnv: OMP_WAIT_POLICY=PASSIVE,
    # OPENBLAS_NUM_THREADS=1; model and batches channels-last), so the settings' share of the ratio
    # is visible.
    base() { local flag=$1; shift; env "$@" /usr/bin/python3 bench/train_baseline.py --algo "$algo" --data "$DATA" --size "$size" --workers "$WORKERS" \
      --threads "$THREADS" --iters $((ITERS - LOG)) --warmup "$LOG" $flag | sed -n 's/^img_s=\([0-9.]*\).*/\1/p'; }
    theirs=$(base "" -u OMP_WAIT_POLICY -u OPENBLAS_NUM_THREADS)
    passive=$(base --channels-last OMP_WAIT_POLICY=PASSIVE OPENBLAS_NUM_THREADS=1)
    printf '%-7s %5s %12s %12s %7s %14s %7s  %s\n' "$algo" "$size" "$ours" "$theirs" "$(python3 -c "print(f'{$ours/$theirs:.2f}x')")" \
      "$passive" "$(python3 -c "print(f'{$ours/$passive:.2f}x')")" "$bott"
    rm -rf "$wd"
  done
done
