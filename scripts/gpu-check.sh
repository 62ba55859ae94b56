#!/usr/bin/env bash
# scripts/gpu-check.sh OUTDIR [all|lib|bench]: the one prepared run on the GPU machine (no Go
# toolchain, no network; g++, CUDA and a PyTorch install). It needs the
# bundle that `make gpu-bundle` built here (build/gpu-bundle, carried along
# with the tree) and, in one run well inside 10 minutes:
#   1. builds libflowssl_tch.so against that PyTorch's libtorch (gotchprep -lib),
#   2. runs the prebuilt CUDA tests (model.test, actors.test) against it,
#   3. benchmarks MoCo v2 and SimCLR, ResNet-50, 224 px, batch 64 and 256,
#      fp32 and AMP: flowssl train end to end against bench/gpu_baseline.py
#      (torchvision + DataLoader, same cores), sampling nvidia-smi for the
#      GPU's busy fraction over each measured window,
# writing logs and results.tsv / summary.md into OUTDIR. "lib" stops after the
# tests and "bench" skips them, for a run split over two calls: the library is
# cached in build/libtch/<version>-<flavour> of the tree, which stays on a warm
# machine between calls.
#
# FLOWSSL_GPU_CHECK_CPU=1 runs the same plumbing on a CPU-only machine
# (Debian's libtorch, --device cpu, bf16 instead of fp16, tiny sizes), which
# is how it is tested without a GPU. Other knobs (environment):
#   FLOWSSL_BUNDLE   bundle folder (default build/gpu-bundle)
#   GPU_CHECK_BUDGET seconds for the whole run (default 540); benchmark runs
#                    that no longer fit are skipped and reported as such
#   GPU_CHECK_ALGOS, GPU_CHECK_BATCHES, GPU_CHECK_AMPS, GPU_CHECK_IMAGES
#                    (images measured per run), GPU_CHECK_WORKERS
set -uo pipefail
OUT=${1:?usage: scripts/gpu-check.sh OUTDIR [all|lib|bench]}
PHASE=${2:-all}
case $PHASE in all | lib | bench) ;; *) echo "gpu-check: phase $PHASE: want all, lib or bench" >&2; exit 2 ;; esac
NCPU=$(getconf _NPROCESSORS_ONLN) # before OMP_NUM_THREADS=1, which nproc obeys
ROOT=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)
CPU=${FLOWSSL_GPU_CHECK_CPU:-0}
BUDGET=${GPU_CHECK_BUDGET:-540}
[ "$CPU" != 1 ] || BUDGET=${GPU_CHECK_BUDGET:-1500} # a dry run on a small CPU machine
START=$(date +%s)
PY=${PYTHON:-python3}
RUNS=$(mktemp -d "${TMPDIR:-/tmp}/flowssl-gpu-check.XXXXXX") # work dirs (checkpoints) stay out of OUTDIR
trap 'rm -rf "$RUNS"' EXIT
B=${FLOWSSL_BUNDLE:-}
if [ -z "$B" ] && [ -f "$ROOT/build/gpu-bundle.tar.xz" ]; then
  # What travels: unpack it (xz may be missing; Python's lzma is not).
  tar -C "$RUNS" -xJf "$ROOT/build/gpu-bundle.tar.xz" 2>/dev/null ||
    $PY -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$ROOT/build/gpu-bundle.tar.xz" "$RUNS"
  B=$RUNS/gpu-bundle
fi
B=${B:-$ROOT/build/gpu-bundle}
B=$(cd "$B" 2>/dev/null && pwd) || { echo "gpu-check: no bundle (make gpu-bundle builds build/gpu-bundle.tar.xz)" >&2; exit 2; }
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-2}

if [ "$CPU" = 1 ]; then
  DEVICE=cpu FLAVOUR=cpu
  ALGOS=${GPU_CHECK_ALGOS:-mocov2} BATCHES=${GPU_CHECK_BATCHES:-4} AMPS=${GPU_CHECK_AMPS:-fp32 bf16}
  IMAGES=${GPU_CHECK_IMAGES:-8} WARMUP=1 PY=/usr/bin/python3
else
  DEVICE=cuda FLAVOUR=cuda
  ALGOS=${GPU_CHECK_ALGOS:-mocov2 simclr} BATCHES=${GPU_CHECK_BATCHES:-256 64} AMPS=${GPU_CHECK_AMPS:-fp16 fp32}
  IMAGES=${GPU_CHECK_IMAGES:-1024} WARMUP=3
fi
WORKERS=${GPU_CHECK_WORKERS:-$NCPU}

log() { echo "[$(($(date +%s) - START))s] $*" | tee -a "$OUT/gpu-check.log"; }
left() { echo $((BUDGET - ($(date +%s) - START))); }

# --- 0. the machine
{
  echo "date: $(date -u +%FT%TZ)"
  echo "cpus: $NCPU ($(lscpu 2>/dev/null | sed -n 's/^Model name: *//p'))"
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  $PY -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.__path__[0])' 2>&1
  $PY -c 'import torchvision; print("torchvision", torchvision.__version__)' 2>&1 | tail -1
  g++ --version | head -1
} >"$OUT/machine.txt" 2>&1
log "machine: $(tr '\n' ';' <"$OUT/machine.txt")"

# --- 1. the library, against this machine's libtorch
TORCH=$($PY -c 'import torch; print(torch.__path__[0])' 2>/dev/null || true)
libargs=(-lib -libroot "${GPU_CHECK_LIBROOT:-$ROOT/build/libtch}" -src "$B/gotch" -flavour "$FLAVOUR")
if [ "$CPU" != 1 ] && [ -n "$TORCH" ] && [ -f "$TORCH/lib/libtorch.so" ]; then
  libargs+=(-libtorch "$TORCH")
fi # else the system's libtorch (Debian's, which the CPU dry run uses)
t0=$(date +%s)
if ! LIBDIR=$("$B/bin/gotchprep" "${libargs[@]}" 2>"$OUT/libtch-build.log"); then
  log "FAIL: building libflowssl_tch.so (see libtch-build.log)"
  tail -40 "$OUT/libtch-build.log"
  exit 1
fi
cp "$LIBDIR/.gotchprep.json" "$OUT/libtch-stamp.json" 2>/dev/null
log "built $LIBDIR/libflowssl_tch.so in $(($(date +%s) - t0))s: $(tail -1 "$OUT/libtch-build.log")"
export LD_LIBRARY_PATH="$LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
FLOWSSL=$B/bin/flowssl
"$FLOWSSL" version >"$OUT/version.txt" 2>&1
log "flowssl version: $(tr '\n' ';' <"$OUT/version.txt")"

# --- 2. tests (prebuilt test binaries run in their package folders)
status=0
if [ "$PHASE" != bench ]; then
req=""
[ "$CPU" = 1 ] || req=1
(cd "$ROOT/model" && FLOWSSL_REQUIRE_CUDA=$req timeout 120 "$B/bin/model.test" -test.v \
  -test.run 'TestToolchain|TestAdaptedBinding|TestAutocast|TestCUDA|TestGradScaler|TestParamsToChannelsLast|TestScalerFromConfig' \
  >"$OUT/model-test.log" 2>&1) || status=1
(cd "$ROOT/actors" && timeout 60 "$B/bin/actors.test" -test.v -test.run 'TestNewAMP' >"$OUT/actors-test.log" 2>&1) || status=1
log "tests: model $(grep -c -- '^--- PASS' "$OUT/model-test.log") passed, $(grep -c -- '^--- FAIL' "$OUT/model-test.log") failed, $(grep -c -- '^--- SKIP' "$OUT/model-test.log") skipped; actors $(tail -1 "$OUT/actors-test.log")"
[ $status = 0 ] || log "FAIL: tests (see model-test.log, actors-test.log)"
fi
if [ "$PHASE" = lib ]; then
  log "done (lib) in $(($(date +%s) - START))s"
  exit $status
fi

# --- 3. benchmark data: ImageNet-like JPEGs, generated here
max_batch=$(printf '%s\n' $BATCHES | sort -n | tail -1)
min_batch=$(printf '%s\n' $BATCHES | sort -n | head -1)
NIMG=$(((IMAGES / min_batch + WARMUP) * min_batch))
n2=$(((IMAGES / max_batch + WARMUP) * max_batch))
[ "$n2" -le "$NIMG" ] || NIMG=$n2
DATA=$RUNS/data
t0=$(date +%s)
"$FLOWSSL" bench augment --data "$DATA" --generate "$NIMG" --pipeline mocov2 --workers "$WORKERS" --seconds 3 \
  >"$OUT/augment.txt" 2>&1 || log "FAIL: bench augment (see augment.txt)"
log "generated $NIMG JPEGs in $(($(date +%s) - t0))s; augment: $(tail -1 "$OUT/augment.txt")"

# --- 4. benchmark: flowssl vs PyTorch, same data, same cores
sampler_pid=""
start_sampler() { # $1: csv of "epoch_ms util%"
  command -v nvidia-smi >/dev/null || return 0
  (while :; do
    u=$(nvidia-smi --query-gpu=utilization.gpu --format=csv,noheader,nounits -i 0 2>/dev/null | head -1)
    echo "$(date +%s%3N) ${u:-nan}"
    sleep 0.2
  done) >"$1" &
  sampler_pid=$!
}
stop_sampler() { [ -z "$sampler_pid" ] || { kill "$sampler_pid" 2>/dev/null; wait "$sampler_pid" 2>/dev/null; sampler_pid=""; }; }
trap 'stop_sampler; rm -rf "$RUNS"' EXIT

# busy START_MS END_MS CSV: mean utilisation over the window, as a fraction.
busy() {
  [ -s "$3" ] || { echo n/a; return; }
  awk -v a="$1" -v b="$2" '$1>=a && $1<=b && $2!="nan" {s+=$2; n++} END {if (n) printf "%.2f", s/n/100; else print "n/a"}' "$3"
}

config_of() { # algo -> shipped ResNet-50 config
  case $1 in
  mocov2) echo selfsup/mocov2/mocov2_resnet50_8xb32-coslr-200e_in1k.yaml ;;
  simclr) echo selfsup/simclr/simclr_resnet50_8xb32-coslr-200e_in1k.yaml ;;
  esac
}

mkdir -p "$OUT/runs"
printf 'algo\tbatch\tamp\timpl\timages_per_s\tgpu_busy\tnote\n' >"$OUT/results.tsv"
for bs in $BATCHES; do
  for algo in $ALGOS; do
    for amp in $AMPS; do
      name=$algo-b$bs-$amp
      iters=$((IMAGES / bs)); [ $iters -ge 2 ] || iters=2
      need=$((30 + (iters + WARMUP) * bs / 40))
      [ "$CPU" != 1 ] || need=150 # ResNet-50 at 224 px on a few shared cores
      if [ "$(left)" -lt $((2 * need)) ]; then
        log "skip $name: $(left)s left of the budget"
        printf '%s\t%s\t%s\tboth\tskipped\t\tbudget\n' "$algo" "$bs" "$amp" >>"$OUT/results.tsv"
        continue
      fi
      # Both sides read the same WARMUP+iters batches' worth of images: one
      # flowssl epoch, logging every batch.
      sub=$RUNS/data-$bs-$iters
      if [ ! -d "$sub" ]; then
        find "$DATA" -type f -name '*.JPEG' -o -type f -name '*.jpg' | sort | head -n $(((iters + WARMUP) * bs)) |
          while read -r f; do
            d=$sub/$(basename "$(dirname "$f")")
            mkdir -p "$d" && ln "$f" "$d/" 2>/dev/null || cp "$f" "$d/"
          done
      fi
      wd=$RUNS/$name
      start_sampler "$OUT/runs/$name.flowssl.smi"
      timeout $((need * 3)) "$FLOWSSL" train "$(config_of "$algo")" --device "$DEVICE" --amp "$amp" \
        --work-dir "$wd" --workers "$WORKERS" --seed 0 --cfg-options \
        data.train.data_source.data_prefix="$sub" data.train.data_source.ann_file= \
        data.samples_per_gpu="$bs" data.drop_last=True runner.max_epochs=1 \
        log_config.interval=1 checkpoint_config.interval=1000 \
        >"$OUT/runs/$name.flowssl.log" 2>&1
      rc=$?
      stop_sampler
      res=$($PY - "$wd" "$WARMUP" <<'EOF'
import glob, json, sys, datetime
wd, warm = sys.argv[1], int(sys.argv[2])
lines = []
for f in glob.glob(wd + '/*.log.json'):
    for ln in open(f):
        pairs = json.loads(ln, object_pairs_hook=lambda p: p)
        d = {}
        for k, v in pairs:
            if k == 'timestamp' or (k == 'time' and isinstance(v, str)):
                d['stamp'] = v
            else:
                d[k] = v
        if d.get('message') == 'train' and 'img_s' in d:
            lines.append(d)
m = lines[warm:] or lines[-1:]
if not m:
    print('nan 0 0 no-train-lines'); sys.exit()
hm = len(m) / sum(1 / max(x['img_s'], 1e-9) for x in m)
ts = lambda s: int(datetime.datetime.fromisoformat(s.replace('Z', '+00:00')).timestamp() * 1000)
first = lines[warm - 1] if 0 < warm <= len(lines) - 1 else m[0]
print(f"{hm:.1f} {ts(first['stamp'])} {ts(m[-1]['stamp']) + 999} {m[-1].get('bottleneck', '').replace(' ', '_') or '-'}")
EOF
)
      read -r ips w0 w1 bneck <<<"$res"
      [ $rc = 0 ] || bneck="exit_$rc"
      printf '%s\t%s\t%s\tflowssl\t%s\t%s\t%s\n' "$algo" "$bs" "$amp" "$ips" "$(busy "$w0" "$w1" "$OUT/runs/$name.flowssl.smi")" "$bneck" >>"$OUT/results.tsv"
      log "$name flowssl: $ips img/s (rc $rc, $bneck)"

      start_sampler "$OUT/runs/$name.torch.smi"
      pamp=$amp
      timeout $((need * 3)) $PY "$ROOT/bench/gpu_baseline.py" --data "$sub" --algo "$algo" --batch "$bs" --amp "$pamp" \
        --workers "$WORKERS" --iters "$iters" --warmup "$WARMUP" --device "$DEVICE" >"$OUT/runs/$name.torch.log" 2>&1
      rc=$?
      stop_sampler
      line=$(grep '^images_per_s=' "$OUT/runs/$name.torch.log" | tail -1)
      ips=$(sed -n 's/^images_per_s=\([0-9.]*\).*/\1/p' <<<"$line")
      win=$(sed -n 's/.*window_ms=\([0-9]*\),\([0-9]*\).*/\1 \2/p' <<<"$line")
      pipe=$(sed -n 's/.*pipeline=\([a-z]*\).*/\1/p' <<<"$line")
      [ $rc = 0 ] || pipe="exit_$rc"
      # shellcheck disable=SC2086
      printf '%s\t%s\t%s\tpytorch\t%s\t%s\t%s\n' "$algo" "$bs" "$amp" "${ips:-nan}" "$(busy ${win:-0 0} "$OUT/runs/$name.torch.smi")" "${pipe:-?}" >>"$OUT/results.tsv"
      log "$name pytorch: ${ips:-nan} img/s (rc $rc, pipeline ${pipe:-?})"
    done
  done
done

# --- 5. summary: flowssl / PyTorch per configuration
$PY - "$OUT/results.tsv" >"$OUT/summary.md" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter='\t'))
by = {}
for r in rows:
    by.setdefault((r['algo'], r['batch'], r['amp']), {})[r['impl']] = r
print('| algo | batch | amp | flowssl img/s | PyTorch img/s | ratio | GPU busy flowssl | GPU busy PyTorch | flowssl bottleneck |')
print('|---|---|---|---|---|---|---|---|---|')
for (a, b, m), d in by.items():
    f, p = d.get('flowssl', {}), d.get('pytorch', {})
    try:
        ratio = f"{float(f['images_per_s']) / float(p['images_per_s']):.2f}"
    except (KeyError, ValueError, ZeroDivisionError):
        ratio = 'n/a'
    print(f"| {a} | {b} | {m} | {f.get('images_per_s', '-')} | {p.get('images_per_s', '-')} | {ratio} | "
          f"{f.get('gpu_busy', '-')} | {p.get('gpu_busy', '-')} | {f.get('note', '-')} |")
EOF
cat "$OUT/summary.md" | tee -a "$OUT/gpu-check.log"
log "done in $(($(date +%s) - START))s"
exit $status
