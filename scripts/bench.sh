#!/usr/bin/env bash
# make bench: the measurements behind BENCHMARKS.md, each side by side with
# its PyTorch baseline in the same run. Prints the machine and date first.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=./bin/flowssl
DATA=${BENCH_DATA:-work_dirs/bench_jpegs}
SECONDS_EACH=${BENCH_SECONDS:-15}
echo "date: $(date -u +%F)  cpu: $(lscpu | sed -n 's/^Model name: *//p') x $(nproc --all)  torch: $(/usr/bin/python3 -c 'import torch;print(torch.__version__)')"

echo "== training step (ResNet forward+backward, batch 32, 2 threads)"
OMP_NUM_THREADS=2 go test -run '^$' -bench 'ResNet18Step96' -benchtime 10x ./model/ | grep Benchmark
/usr/bin/python3 model/testdata/nets/bench_step.py --depth 18 --size 96 --iters 10 --threads 2

echo "== augmentation (source images/s, all views)"
[ -d "$DATA" ] || $BIN bench augment --data "$DATA" --generate 500 --seconds 1 >/dev/null
for w in 1 2; do
  $BIN bench augment --data "$DATA" --pipeline mocov2 --workers $w --seconds "$SECONDS_EACH" --baseline
  $BIN bench augment --data "$DATA" --pipeline mocov2 --workers $w --seconds "$SECONDS_EACH" --decode-only --baseline
done
$BIN bench augment --data "$DATA" --pipeline simclr --workers 2 --seconds "$SECONDS_EACH" --baseline
