#!/usr/bin/env bash
# scripts/make_base_model.sh -- how models/yolite_base_n.pt was made, in three stages, each on
# rendered scenes only (seeds other than the main job's, so its test split is never seen):
#
#   stage 1  yolov5n from scratch, 25 epochs on 3,000 plain renders (`yolite synth --plain`:
#            flat procedural backgrounds, no close-ups; the renderer's look before 0.3)
#   stage 2  fine-tuned from stage 1 for 20 epochs on 3,000 renders with the default realism
#            knobs (natural grounds, rendered clutter, distractors, shadows, dents, printed
#            labels, close-ups, refraction, camera effects) of 0.3 and hyp.sim2real.yaml (mosaic 0.5)
#   stage 3  fine-tuned from stage 2 for 12 epochs on 3,000 renders with the defaults of 0.5
#            (as stage 2's, plus label-less bottles, square bodies, reflections, and close-ups
#            on 70% of the images at 60-120% of the image side), hyp.sim2real.yaml
#   stage 4  fine-tuned from stage 3 for 12 epochs on 3,000 renders with the defaults of 0.8
#            (as stage 3's, plus rows of one product, white studio backdrops and no labels for
#            mostly hidden objects), with hyp.sim2real-ft.yaml (a lower learning rate and an EMA
#            sized for a short run)
#   stage 5  fine-tuned from stage 4 for 12 epochs on 3,000 renders with the defaults of 0.9
#            (as stage 4's, plus colourless clear plastic), hyp.sim2real-ft.yaml
#   stage 6  a model soup (Wortsman et al. 2022): four fine-tunes of stage 5, each for 8 epochs
#            on its own 1,000 renders (own seed; the defaults, then stretched photos, strong
#            refraction, liquid in the bottles), hyp.sim2real-ft.yaml, their final weights
#            averaged by `yolite average`
#
# The main job (scripts/main.sh) fine-tunes the result, as the tutorial fine-tunes YOLOv5's COCO
# weights. docs/sim2real.md measures it on real photos.
#
#   bash scripts/make_base_model.sh [OUT_DIR]      (default: runs/base_model)
#   STAGE1=models/yolite_base_n_stage1.pt ...      start at stage 2 from that stage-1 model
#   STAGE2=base_0.4.pt ...                          start at stage 3 from that stage-2 model
#                                                   (0.4's models/yolite_base_n.pt is stage 2)
#   STAGE3=base_0.5.pt ...                          start at stage 4 from that stage-3 model
#                                                   (0.5's models/yolite_base_n.pt is stage 3)
#   STAGE4=base_0.8.pt ...                          start at stage 5 from that stage-4 model
#                                                   (0.8's models/yolite_base_n.pt is stage 4)
#   STAGE5=base_0.9.pt ...                          start at stage 6 from that stage-5 model
#                                                   (0.9's models/yolite_base_n.pt is stage 5)
#
# Time on 2 cores: stage 1 ~1-2 hours, stage 2 ~35 minutes, stage 3 ~20 minutes, stages 4 and 5
# ~12 minutes each, stage 6 ~20 minutes. SKIP_DONE=1 keeps the stage-6 fine-tunes that finished
# before (after an interruption; the same run would give the same file). Deterministic: the same
# commit, seeds and thread count give the same weights. Stage 1
# of the shipped file was made with the binary of commit 5ff9805 (later kernel changes round
# differently, so a rebuild gives a model of the same quality, not the same bits); stage 2 with
# the 0.3 script; stage 3 with the 0.5 script (from 0.4's base model); stage 4 with the 0.8
# script (STAGE3 = 0.5's base model, 2 threads); stage 5 with the 0.9 script (STAGE4 = 0.8's base
# model, 2 threads); stage 6 with this script as committed (STAGE5 = 0.9's base model, 2 threads).
# Tunables (environment): PER_CLASS (600), EPOCHS1 (25), EPOCHS2 (20), EPOCHS3 (12), EPOCHS4 (12),
# EPOCHS5 (12), PER_CLASS6 (200), EPOCHS6 (8), IMG (320), BATCH (16), THREADS (2), HYP4
# (scripts/hyp.sim2real-ft.yaml, stages 4 to 6), STAGE1 ... STAGE5 (a .pt to skip the stages before).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${YOLITE_BUILD_DIR:-$ROOT/build}"
OUT="$(realpath -m "${1:-$ROOT/runs/base_model}")"
PER_CLASS="${PER_CLASS:-600}"
EPOCHS1="${EPOCHS1:-25}"
EPOCHS2="${EPOCHS2:-20}"
EPOCHS3="${EPOCHS3:-12}"
EPOCHS4="${EPOCHS4:-12}"
EPOCHS5="${EPOCHS5:-12}"
PER_CLASS6="${PER_CLASS6:-200}"
EPOCHS6="${EPOCHS6:-8}"
HYP4="$(realpath "${HYP4:-$ROOT/scripts/hyp.sim2real-ft.yaml}")"
IMG="${IMG:-320}"
BATCH="${BATCH:-16}"
THREADS="${THREADS:-2}"
STAGE1="${STAGE1:-}"
[ -z "$STAGE1" ] || STAGE1="$(realpath "$STAGE1")"
STAGE2="${STAGE2:-}"
[ -z "$STAGE2" ] || STAGE2="$(realpath "$STAGE2")"
STAGE3="${STAGE3:-}"
[ -z "$STAGE3" ] || STAGE3="$(realpath "$STAGE3")"
STAGE4="${STAGE4:-}"
[ -z "$STAGE4" ] || STAGE4="$(realpath "$STAGE4")"
STAGE5="${STAGE5:-}"
[ -z "$STAGE5" ] || STAGE5="$(realpath "$STAGE5")"
YOLITE_TARGETS=yolite_cli bash "$ROOT/scripts/setup.sh" "$BUILD"
Y="$BUILD/yolite"
mkdir -p "$OUT"
cd "$OUT"

render() {  # render DIR SEED [synth flags...] -> DIR/data/dataset.yaml (PER_CLASS images per class)
  local dir="$1" seed="$2"
  shift 2
  rm -rf "$dir"
  "$Y" synth --out "$dir/render" --per-class "$PER_CLASS" --seed "$seed" "$@"
  "$Y" coco2yolo --coco "$dir/render/coco_instances.json" --images "$dir/render/images_raw" --out "$dir/render/labels_raw"
  "$Y" split --images "$dir/render/images_raw" --labels "$dir/render/labels_raw" --out "$dir/data" --seed 7 --ratios 0.95,0.05,0
}

if [ -z "$STAGE1" ] && [ -z "$STAGE2" ] && [ -z "$STAGE3" ] && [ -z "$STAGE4" ] && [ -z "$STAGE5" ]; then
  render stage1 1000 --plain
  OMP_WAIT_POLICY=passive "$Y" train --img "$IMG" --cfg yolov5n.yaml --hyp hyp.scratch-low.yaml \
    --batch "$BATCH" --epochs "$EPOCHS1" --data stage1/data/dataset.yaml --weights '' --workers 2 --cache ram \
    --threads "$THREADS" --seed 0 --project runs --name stage1 --exist-ok
  STAGE1="$OUT/runs/stage1/weights/best.pt"
fi
if [ -z "$STAGE2" ] && [ -z "$STAGE3" ] && [ -z "$STAGE4" ] && [ -z "$STAGE5" ]; then
  # the defaults of 0.3 (later versions render more close-ups, label-less and square bottles, reflections)
  render stage2 1001 --closeup 0.5 --closeup-size 0.5,1.1 --bare 0 --square 0 --reflections 0 --rows 0 --studio 0 \
    --min-visible 0 --clear 0
  OMP_WAIT_POLICY=passive "$Y" train --img "$IMG" --cfg yolov5n.yaml --hyp "$ROOT/scripts/hyp.sim2real.yaml" \
    --batch "$BATCH" --epochs "$EPOCHS2" --data stage2/data/dataset.yaml --weights "$STAGE1" --workers 2 --cache ram \
    --threads "$THREADS" --seed 0 --project runs --name stage2 --exist-ok
  "$Y" strip runs/stage2/weights/last.pt --out runs/stage2/weights/stage2.pt  # as 0.4's models/yolite_base_n.pt
  STAGE2="$OUT/runs/stage2/weights/stage2.pt"
fi
if [ -z "$STAGE3" ] && [ -z "$STAGE4" ] && [ -z "$STAGE5" ]; then
  # the defaults of 0.5 (0.8 adds rows of one product, studio backdrops and the visibility rule)
  render stage3 1002 --rows 0 --studio 0 --min-visible 0 --clear 0
  OMP_WAIT_POLICY=passive "$Y" train --img "$IMG" --cfg yolov5n.yaml --hyp "$ROOT/scripts/hyp.sim2real.yaml" \
    --batch "$BATCH" --epochs "$EPOCHS3" --data stage3/data/dataset.yaml --weights "$STAGE2" --workers 2 --cache ram \
    --threads "$THREADS" --seed 0 --project runs --name stage3 --exist-ok
  "$Y" strip runs/stage3/weights/last.pt --out runs/stage3/weights/stage3.pt  # as 0.5's models/yolite_base_n.pt
  STAGE3="$OUT/runs/stage3/weights/stage3.pt"
fi
if [ -z "$STAGE4" ] && [ -z "$STAGE5" ]; then
  # the defaults of 0.8 (0.9 adds colourless clear plastic)
  render stage4 1003 --clear 0
  OMP_WAIT_POLICY=passive "$Y" train --img "$IMG" --cfg yolov5n.yaml --hyp "$HYP4" \
    --batch "$BATCH" --epochs "$EPOCHS4" --data stage4/data/dataset.yaml --weights "$STAGE3" --workers 2 --cache ram \
    --threads "$THREADS" --seed 0 --project runs --name stage4 --exist-ok
  "$Y" strip runs/stage4/weights/last.pt --out runs/stage4/weights/stage4.pt  # as 0.8's models/yolite_base_n.pt
  STAGE4="$OUT/runs/stage4/weights/stage4.pt"
fi
if [ -z "$STAGE5" ]; then
  render stage5 1004
  OMP_WAIT_POLICY=passive "$Y" train --img "$IMG" --cfg yolov5n.yaml --hyp "$HYP4" \
    --batch "$BATCH" --epochs "$EPOCHS5" --data stage5/data/dataset.yaml --weights "$STAGE4" --workers 2 --cache ram \
    --threads "$THREADS" --seed 0 --project runs --name stage5 --exist-ok
  "$Y" strip runs/stage5/weights/last.pt --out runs/stage5/weights/stage5.pt  # as 0.9's models/yolite_base_n.pt
  STAGE5="$OUT/runs/stage5/weights/stage5.pt"
fi
# stage 6: the soup's ingredients, each from stage 5 on renders of its own; then their mean
ingredients=()
k=0
for flags in "" "--stretch 0.4" "--refraction 0.12" "--liquid 0.5"; do
  k=$((k + 1))
  ingredients+=("runs/soup$k/weights/last.pt")  # the final epoch of each, not picked on renders
  if [ -n "${SKIP_DONE:-}" ] && [ -f "runs/soup$k/finished" ] && [ -f "runs/soup$k/weights/last.pt" ]; then
    echo "stage 6: keeping runs/soup$k/weights/last.pt"
    continue
  fi
  # shellcheck disable=SC2086
  PER_CLASS="$PER_CLASS6" render "soup$k" $((1004 + k)) $flags
  OMP_WAIT_POLICY=passive "$Y" train --img "$IMG" --cfg yolov5n.yaml --hyp "$HYP4" \
    --batch "$BATCH" --epochs "$EPOCHS6" --data "soup$k/data/dataset.yaml" --weights "$STAGE5" --workers 2 \
    --cache ram --threads "$THREADS" --seed 0 --project runs --name "soup$k" --exist-ok
  touch "runs/soup$k/finished"
done
mkdir -p runs/base_n/weights
"$Y" average "${ingredients[@]}" --out runs/base_n/weights/base_n.pt
echo "base model: $OUT/runs/base_n/weights/base_n.pt (copy it to models/yolite_base_n.pt)"
