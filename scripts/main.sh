#!/usr/bin/env bash
# scripts/main.sh -- README command 1: the tutorial end to end on a fresh machine.
#
#   1. set up (Debian packages, configure, build `yolite`)  scripts/setup.sh
#   2. render a small bottle data set (5 classes, 512/300)  yolite synth
#   3. COCO -> YOLO labels, split train/val/test            yolite coco2yolo, yolite split
#   4. fine-tune yolov5n at image size 320 (the tutorial's
#      --img 300, rounded up to a multiple of 32) from the
#      base model models/yolite_base_n.pt                   yolite train
#   5. score it on the test split                           yolite val --task test
#   6. detect on the test split (4x4 collage), on the
#      rendered test_image.jpg, and on 8 real photos of
#      bottles (examples/real_bottles, never trained on):
#      how many of their bottles it finds                  yolite detect
#   7. export the trained model to ONNX (docs/export.md)    yolite export
# and print where every result is.
# Like the tutorial (which starts from YOLOv5's COCO weights), step 4 starts from pretrained
# weights: a yolov5n that the project trained on other rendered scenes (scripts/make_base_model.sh
# is the exact recipe; WEIGHTS='' trains from scratch instead). Outputs go to runs/tutorial/
# (replaced on each run).
# Tunables (environment): PER_CLASS, EPOCHS, IMG, BATCH, WEIGHTS, HYP.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${YOLITE_BUILD_DIR:-$ROOT/build}"
# the job needs only the program: the tests and benchmarks are built by scripts/test.sh
YOLITE_TARGETS=yolite_cli bash "$ROOT/scripts/setup.sh" "$BUILD"
Y="$BUILD/yolite"
OUT="$ROOT/runs/tutorial"
PER_CLASS="${PER_CLASS:-200}"
EPOCHS="${EPOCHS:-20}"
IMG="${IMG:-320}"
# fine-tuning hyperparameters: a lower learning rate than training from scratch (see the file)
HYP="${HYP:-$ROOT/scripts/hyp.finetune.yaml}"
BATCH="${BATCH:-16}"
if [ -z "${WEIGHTS+x}" ]; then
  if [ -f "$ROOT/models/yolite_base_n.pt" ]; then WEIGHTS="$ROOT/models/yolite_base_n.pt"; else WEIGHTS=""; fi
fi
rm -rf "$OUT"
mkdir -p "$OUT"
cd "$OUT"
t0=$(date +%s)
step() { echo; echo "==> $*  [$(( $(date +%s) - t0 ))s]"; }

step "yolite synth: rendering ${PER_CLASS} images per class"
"$Y" synth --out bottles --per-class "$PER_CLASS" --seed 0 --contact-sheet bottles/contact_sheet.jpg
step "yolite coco2yolo"
"$Y" coco2yolo --coco bottles/coco_instances.json --images bottles/images_raw --out bottles/labels_raw
step "yolite split (0.8/0.1/0.1, seed 1)"
"$Y" split --images bottles/images_raw --labels bottles/labels_raw --out dataset --seed 1
step "yolite train: yolov5n from ${WEIGHTS:-scratch}, ${EPOCHS} epochs at ${IMG}"
"$Y" train --img "$IMG" --cfg yolov5n.yaml --hyp "$HYP" --batch "$BATCH" \
  --epochs "$EPOCHS" --data dataset/dataset.yaml --weights "$WEIGHTS" --workers 2 --cache ram \
  --project runs/train --name yolo_bottle_det --exist-ok
BEST=runs/train/yolo_bottle_det/weights/best.pt
step "yolite val on the test split"
"$Y" val --data dataset/dataset.yaml --weights "$BEST" --img "$IMG" --task test \
  --project runs/val --name yolo_bottle_det --exist-ok | tee val_test.txt
step "yolite detect on the test split"
"$Y" detect --source dataset/images/test --weights "$BEST" --img "$IMG" --conf 0.25 \
  --project runs/detect --name yolo_bottle_det --exist-ok --grid 4x4 | tail -n 3
step "yolite detect on test_image.jpg"
"$Y" detect --source bottles/test_image.jpg --weights "$BEST" --img 640 --conf 0.25 \
  --project runs/detect --name test_image --exist-ok
step "yolite detect on real photos (examples/real_bottles: 8 field photos, CC BY 4.0, never trained on)"
"$Y" detect --source "$ROOT/examples/real_bottles/images" --weights "$BEST" --img "$IMG" --conf 0.25 \
  --agnostic-nms --save-txt --project runs/detect --name real_photos --exist-ok | tail -n 2
# a bottle counts as found when one detection (any class) overlaps its box by IoU >= 0.5
REAL_FOUND="$(awk -v truth_dir="$ROOT/examples/real_bottles/labels/" '
  FNR == 1 { stem = FILENAME; sub(/.*\//, "", stem); sub(/\.txt$/, "", stem); truth = (index(FILENAME, truth_dir) == 1) }
  NF >= 5 { k = truth ? "t" : "p"; n[k, stem]++; i = n[k, stem]
            x0[k, stem, i] = $2 - $4 / 2; x1[k, stem, i] = $2 + $4 / 2; y0[k, stem, i] = $3 - $5 / 2; y1[k, stem, i] = $3 + $5 / 2
            if (truth) stems[stem] = 1; else boxes++ }
  END {
    for (s in stems) for (i = 1; i <= n["t", s]; i++) {
      total++; best = 0; bj = 0
      for (j = 1; j <= n["p", s]; j++) {
        if (used[s, j]) continue
        w = (x1["t", s, i] < x1["p", s, j] ? x1["t", s, i] : x1["p", s, j]) - (x0["t", s, i] > x0["p", s, j] ? x0["t", s, i] : x0["p", s, j])
        h = (y1["t", s, i] < y1["p", s, j] ? y1["t", s, i] : y1["p", s, j]) - (y0["t", s, i] > y0["p", s, j] ? y0["t", s, i] : y0["p", s, j])
        inter = (w > 0 && h > 0) ? w * h : 0
        u = (x1["t", s, i] - x0["t", s, i]) * (y1["t", s, i] - y0["t", s, i]) + (x1["p", s, j] - x0["p", s, j]) * (y1["p", s, j] - y0["p", s, j]) - inter
        if (u > 0 && inter / u > best) { best = inter / u; bj = j }
      }
      if (best >= 0.5) { found++; used[s, bj] = 1 }
    }
    printf "found %d of %d bottles (%d boxes drawn)", found, total, boxes
  }' "$ROOT"/examples/real_bottles/labels/*.txt $(ls runs/detect/real_photos/labels/*.txt 2> /dev/null))"
echo "real photos: $REAL_FOUND"
step "yolite export to ONNX (for ONNX Runtime, TensorRT, OpenVINO, ...)"
"$Y" export --weights "$BEST" --include onnx --img "$IMG" | tail -n 1

echo
echo "Done in $(( $(date +%s) - t0 ))s. Results:"
echo "  data set contact sheet   $OUT/bottles/contact_sheet.jpg"
echo "  training run             $OUT/runs/train/yolo_bottle_det  (results.png, results.csv, weights/best.pt)"
echo "  test-split metrics       $OUT/val_test.txt, $OUT/runs/val/yolo_bottle_det (PR/F1 curves, confusion matrix)"
echo "  detections (collage)     $OUT/runs/detect/yolo_bottle_det/grid.jpg"
echo "  detections (test image)  $OUT/runs/detect/test_image/test_image.jpg"
echo "  detections (real photos) $OUT/runs/detect/real_photos  ($REAL_FOUND)"
echo "  ONNX model               $OUT/${BEST%.pt}.onnx  (examples/onnx/detect.cjs runs it in Node.js)"
grep -E "^ +all " val_test.txt | awk '{printf "  test mAP@0.5 %s, mAP@0.5:0.95 %s\n", $6, $7}'
