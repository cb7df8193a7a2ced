#!/usr/bin/env bash
# What a run shows besides results.csv, checked by independent readers:
#  1. TensorBoard: a short real training run (yolov5n, 64 px, 10 rendered images of 5 classes,
#     3 epochs) writes events.out.tfevents.*; tests/cli/read_tfevents.py (the record format and
#     the protobuf definitions, standard library only) verifies every checksum and finds every
#     scalar of results.csv under YOLOv5's tag at step = epoch, and the first batches and the
#     final plots as images; --no-tensorboard writes none;
#  2. report.html: headless Chromium (Debian's chromium driven by playwright-core from npm,
#     installed into NPM_DIR when missing) loads the run's page and `yolite val`'s page with no
#     console errors, one point per epoch in every curve, one row per class, every picture
#     decoding, and the finished page no longer reloading itself.
# usage: dashboards.sh YOLITE_BINARY WORK_DIR SOURCE_DIR NPM_DIR
set -euo pipefail
Y="$1"; WORK="$2"; SRC="$3"; NPM_DIR="$4"
rm -rf "$WORK"; mkdir -p "$WORK"; cd "$WORK"
export OMP_NUM_THREADS=1
fail() { echo "FAIL: $*"; exit 1; }
PY="$(command -v python3 || true)"
[ -n "$PY" ] || fail "python3 is needed"

"$Y" synth --out bottles --per-class 2 --sizes 64 --seed 4 --no-test-image --threads 1 > synth.log 2>&1
"$Y" coco2yolo --coco bottles/coco_instances.json --images bottles/images_raw --out bottles/labels > c2y.log
"$Y" split --images bottles/images_raw --labels bottles/labels --out data --ratios 0.5,0.5,0 --stratify --seed 1 > split.log
ARGS=(--img 64 --cfg yolov5n.yaml --batch 4 --data data/dataset.yaml --weights ''
      --workers 1 --threads 1 --seed 7 --project runs --quiet)
"$Y" train "${ARGS[@]}" --epochs 3 --name tb > train.log 2>&1 || { cat train.log; fail "training failed"; }
RUN=runs/tb
[ -f "$RUN/report.html" ] || fail "no report.html in $RUN"
"$PY" "$SRC/tests/cli/read_tfevents.py" "$RUN" --images train_batch0 train_batch1 results PR_curve confusion_matrix val_batch0_pred ||
  fail "the TensorBoard events do not hold what results.csv holds"
"$Y" train "${ARGS[@]}" --epochs 1 --name notb --no-tensorboard > notb.log 2>&1 || { cat notb.log; fail "training failed"; }
if ls runs/notb | grep -q tfevents; then fail "--no-tensorboard wrote an event file"; fi
echo "ok: --no-tensorboard writes no event file"

"$Y" val --data data/dataset.yaml --weights "$RUN/weights/best.pt" --img 64 --project runs --name val --exist-ok > val.log 2>&1 ||
  { cat val.log; fail "yolite val failed"; }
[ -f runs/val/report.html ] || fail "yolite val wrote no report.html"

command -v node > /dev/null && command -v npm > /dev/null || fail "node and npm are needed"
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || fail "chromium is needed (scripts/test.sh installs Debian's chromium)"
export NODE_PATH="$NPM_DIR/node_modules"
if ! node -e "require('playwright-core')" 2> /dev/null; then
  echo "installing playwright-core from npm into $NPM_DIR"
  mkdir -p "$NPM_DIR"
  (cd "$NPM_DIR" && npm install --ignore-scripts --no-audit --no-fund --loglevel=error playwright-core@1.65.1) ||
    fail "npm install failed"
fi
node "$SRC/tests/report/check_report.cjs" "$RUN/report.html" 3 5 report.png || fail "the training report"
node "$SRC/tests/report/check_report.cjs" runs/val/report.html 0 5 || fail "the validation report"
echo "dashboards: all checks passed"
