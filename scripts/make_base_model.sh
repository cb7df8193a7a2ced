#!/usr/bin/env bash
# scripts/make_base_model.sh -- how models/yolite_base_n.pt was made: yolov5n trained from
# scratch on 3000 rendered bottle scenes (a different seed from the main job's data set, so the
# main job's test split is never seen in pre-training). The main job (scripts/main.sh) fine-tunes
# it, as the tutorial fine-tunes YOLOv5's COCO weights.
#
#   bash scripts/make_base_model.sh [OUT_DIR]     (default: runs/base_model; ~1-2 hours on 2 cores)
#
# Deterministic: the same commit, seed and thread count give the same weights. The shipped file
# was made with the binary of commit 5ff9805, 2 threads: epochs 0-15 in one run, then
# `yolite train --resume .../last.pt` for epochs 16-24 (resume is bitwise, tests/cli/kill_resume.sh),
# then `yolite strip best.pt` (see README, "The base model"). Later kernel changes round
# differently, so a rebuild now gives a model of the same quality, not the same bits.
# Tunables (environment): PER_CLASS (600), EPOCHS (25), IMG (320), BATCH (16), THREADS (2).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${YOLITE_BUILD_DIR:-$ROOT/build}"
OUT="$(realpath -m "${1:-$ROOT/runs/base_model}")"
PER_CLASS="${PER_CLASS:-600}"
EPOCHS="${EPOCHS:-25}"
IMG="${IMG:-320}"
BATCH="${BATCH:-16}"
THREADS="${THREADS:-2}"
bash "$ROOT/scripts/setup.sh" "$BUILD"
Y="$BUILD/yolite"
mkdir -p "$OUT"
cd "$OUT"
rm -rf render data runs
"$Y" synth --out render --per-class "$PER_CLASS" --seed 1000
"$Y" coco2yolo --coco render/coco_instances.json --images render/images_raw --out render/labels_raw
"$Y" split --images render/images_raw --labels render/labels_raw --out data --seed 7 --ratios 0.95,0.05,0
OMP_WAIT_POLICY=passive "$Y" train --img "$IMG" --cfg yolov5n.yaml --hyp hyp.scratch-low.yaml \
  --batch "$BATCH" --epochs "$EPOCHS" --data data/dataset.yaml --weights '' --workers 2 --cache ram \
  --threads "$THREADS" --seed 0 --project runs --name base_n --exist-ok
echo "base model: $OUT/runs/base_n/weights/best.pt (copy it to models/yolite_base_n.pt)"
