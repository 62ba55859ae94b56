#!/usr/bin/env bash
# make demo: SimCLR with ResNet-18 on the built-in Shapes data (CPU), then the
# kNN benchmark on held-out Shapes images, against the same network at random init.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=./bin/flowssl
CFG=selfsup/simclr/simclr_resnet18_shapes-32px_cpu.yaml
KNN=benchmarks/classification/knn_shapes-32px.yaml
WD=${DEMO_WORK_DIR:-work_dirs/demo_simclr_shapes}
EPOCHS=${DEMO_EPOCHS:-36}
rm -rf "$WD"
echo "== flowssl train $CFG ($EPOCHS epochs, CPU)"
start=$(date +%s)
$BIN train "$CFG" --work-dir "$WD" --seed 0 --cfg-options runner.max_epochs="$EPOCHS" checkpoint_config.interval="$EPOCHS"
echo "== trained in $(( $(date +%s) - start )) s"
echo "== kNN at random init (the floor)"
$BIN knn "$CFG" --dataset-config "$KNN" --num-knn 20 --work-dir "$WD" | tee "$WD/knn_random.txt"
echo "== kNN after training"
$BIN knn "$CFG" --dataset-config "$KNN" --num-knn 20 --work-dir "$WD" --checkpoint "$WD/latest.pth" | tee "$WD/knn_trained.txt"
floor=$(sed -n 's/.*Top1: \([0-9.]*\),.*/\1/p' "$WD/knn_random.txt")
trained=$(sed -n 's/.*Top1: \([0-9.]*\),.*/\1/p' "$WD/knn_trained.txt")
echo
echo "kNN top-1 on held-out Shapes: random init ${floor}%  →  SimCLR ${trained}%  (chance 10%)"
