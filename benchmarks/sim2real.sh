#!/usr/bin/env bash
# benchmarks/sim2real.sh -- does a detector trained only on rendered bottles find real ones?
#
# Renders a data set with `yolite synth`, trains yolov5n on it (from scratch, or fine-tuning a
# given base model), then scores the result class-agnostically on a folder of REAL photos with
# COCO boxes (every box is "a bottle"; `yolite val --single-cls`, YOLOv5 val.py's rule) and
# ends with one line:
#
#   sim2real yolov5n 320 synth-only: AP50 X.XXX on N real photos
#
# No real photo is used for training or as a background unless you pass one through --synth.
#
#   bash benchmarks/sim2real.sh --real ../shared/datasets/real-bottles-dev/plastic-bottle-valid
#       [--per-class 600] [--epochs 25] [--img 320] [--batch 16] [--weights BASE.pt]
#       [--seed 1000] [--synth "--min-size 0.3 ..."] [--hyp hyp.scratch-low.yaml] [--out runs/sim2real]
#       [--score-last K] [--augment]
#   bash benchmarks/sim2real.sh --real DIR --eval-only WEIGHTS [--img 320] [--augment]   # score a model only
#
# --score-last K also scores the checkpoints of the last K epochs and prints their mean and
# range: on real photos a render-trained model's AP50 moves by up to 0.1 from one epoch to the
# next, so one checkpoint is weak evidence for a recipe. --augment scores with test-time
# augmentation (yolite val --augment).
#
# The real folder holds annotations/instances.json (COCO; file_name relative to the folder).
# Training a base-size model takes about an hour on 2 cores; --per-class 100 --epochs 5 is a
# quick smoke run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${YOLITE_BUILD_DIR:-$ROOT/build}"
REAL="" PER_CLASS=600 EPOCHS=25 IMG=320 BATCH=16 WEIGHTS="" SEED=1000 SYNTH="" OUT="$ROOT/runs/sim2real" EVAL_ONLY=""
SCORE_LAST=0 AUGMENT=""
HYP=hyp.scratch-low.yaml
while [ $# -gt 0 ]; do
  case "$1" in
    --real) REAL="$2"; shift 2 ;;
    --per-class) PER_CLASS="$2"; shift 2 ;;
    --epochs) EPOCHS="$2"; shift 2 ;;
    --img) IMG="$2"; shift 2 ;;
    --batch) BATCH="$2"; shift 2 ;;
    --weights) WEIGHTS="$2"; shift 2 ;;
    --seed) SEED="$2"; shift 2 ;;
    --synth) SYNTH="$2"; shift 2 ;;
    --hyp) HYP="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --eval-only) EVAL_ONLY="$2"; shift 2 ;;
    --score-last) SCORE_LAST="$2"; shift 2 ;;
    --augment) AUGMENT="--augment"; shift ;;
    -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
    *) echo "sim2real.sh: unknown argument '$1' (--help lists them)" >&2; exit 2 ;;
  esac
done
[ -n "$REAL" ] || { echo "sim2real.sh: --real DIR is required (a folder with annotations/instances.json)" >&2; exit 2; }
REAL="$(realpath "$REAL")"
[ -z "$WEIGHTS" ] || WEIGHTS="$(realpath "$WEIGHTS")"
[ ! -f "$HYP" ] || HYP="$(realpath "$HYP")"
[ -z "$EVAL_ONLY" ] || EVAL_ONLY="$(realpath "$EVAL_ONLY")"
[ -f "$REAL/annotations/instances.json" ] || { echo "sim2real.sh: $REAL/annotations/instances.json not found" >&2; exit 2; }
[ -x "$BUILD/yolite" ] || YOLITE_TARGETS=yolite_cli bash "$ROOT/scripts/setup.sh" "$BUILD"
Y="$BUILD/yolite"
mkdir -p "$OUT"
OUT="$(realpath "$OUT")"

# The real photos in YOLOv5's layout (images/test + labels/test), built once per run folder.
prepare_real() {
  local dst="$OUT/real"
  rm -rf "$dst" "$dst.labels"
  "$Y" coco2yolo --coco "$REAL/annotations/instances.json" --images "$REAL" --out "$dst.labels" > /dev/null
  mkdir -p "$dst/images/test" "$dst/labels/test"
  local n=0
  while IFS= read -r -d '' txt; do
    local rel="${txt#"$dst.labels"/}" stem
    stem="$(basename "${rel%.txt}")"
    local img
    img="$(ls "$REAL/$(dirname "$rel")/$stem".* 2>/dev/null | grep -iE '\.(jpe?g|png|bmp)$' | head -n 1 || true)"
    [ -n "$img" ] || continue
    ln -sf "$img" "$dst/images/test/$(basename "$img")"
    cp "$txt" "$dst/labels/test/$stem.txt"
    n=$((n + 1))
  done < <(find "$dst.labels" -name '*.txt' ! -name classes.txt -print0)
  rm -rf "$dst.labels"
  printf 'path: %s\ntest: images/test\nnames: [bottle]\n' "$dst" > "$dst/real.yaml"
  echo "$n"
}

score() {  # weights -> prints the table, sets AP50
  local w="$1" log="$OUT/val_real.txt"
  "$Y" val --data "$OUT/real/real.yaml" --weights "$w" --img "$IMG" --task test --single-cls \
    --project "$OUT/val" --name real --exist-ok --noplots $AUGMENT | tee "$log"
  AP50="$(awk '$1 == "all" {print $6}' "$log")"
}

NREAL="$(prepare_real)"
if [ -n "$EVAL_ONLY" ]; then
  score "$EVAL_ONLY"
  printf 'sim2real %s %s synth-only: AP50 %.3f on %s real photos\n' "$(basename "$EVAL_ONLY" .pt)" "$IMG" "$AP50" "$NREAL"
  exit 0
fi

cd "$OUT"
rm -rf render data runs
t0=$(date +%s)
# shellcheck disable=SC2086
"$Y" synth --out render --per-class "$PER_CLASS" --seed "$SEED" $SYNTH
"$Y" coco2yolo --coco render/coco_instances.json --images render/images_raw --out render/labels_raw
"$Y" split --images render/images_raw --labels render/labels_raw --out data --seed 7 --ratios 0.95,0.05,0
OMP_WAIT_POLICY=passive "$Y" train --img "$IMG" --cfg yolov5n.yaml --hyp "$HYP" \
  --batch "$BATCH" --epochs "$EPOCHS" --data data/dataset.yaml --weights "$WEIGHTS" --workers 2 --cache ram \
  --seed 0 --project runs --name sim2real --exist-ok $([ "$SCORE_LAST" -gt 0 ] && echo --save-period 1)
score runs/sim2real/weights/last.pt
LAST_AP50="$AP50"
if [ "$SCORE_LAST" -gt 0 ]; then  # the last K epochs' checkpoints, each scored on the real photos
  scores=()
  for e in $(seq $((EPOCHS > SCORE_LAST ? EPOCHS - SCORE_LAST : 0)) $((EPOCHS - 1))); do
    score "runs/sim2real/weights/epoch$e.pt" > /dev/null
    echo "epoch $e: AP50 $AP50"
    scores+=("$AP50")
  done
  printf '%s\n' "${scores[@]}" | awk '{s += $1; if (NR == 1 || $1 < lo) lo = $1; if (NR == 1 || $1 > hi) hi = $1}
    END {printf "last %d epochs: mean AP50 %.3f (%.3f..%.3f)\n", NR, s / NR, lo, hi}'
fi
score runs/sim2real/weights/best.pt
echo "last.pt (final epoch): AP50 $LAST_AP50; best.pt (best fitness on the rendered val split) below"
echo "trained in $(( $(date +%s) - t0 )) s on $((PER_CLASS * 5)) renders (synth flags: ${SYNTH:-defaults}; from ${WEIGHTS:-scratch})"
printf 'sim2real yolov5n %s synth-only: AP50 %.3f on %s real photos\n' "$IMG" "$AP50" "$NREAL"
