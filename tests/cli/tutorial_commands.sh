#!/usr/bin/env bash
# The tutorial's two commands, verbatim but for --epochs 1, on a split made by `yolite split`
# from a tiny rendered data set. yolov5s.pt is a real YOLOv5 v7.0 checkpoint (the shared
# fixture, 5 classes), so the .pt import path is exercised too.
# usage: tutorial_commands.sh YOLITE_BINARY SHARED_DIR WORK_DIR
set -euo pipefail
Y="$1"; SHARED="$2"; WORK="$3"
rm -rf "$WORK"; mkdir -p "$WORK"; cd "$WORK"
"$Y" synth --out bottles --per-class 4 --seed 3 --no-test-image > synth.log
"$Y" coco2yolo --coco bottles/coco_instances.json --images bottles/images_raw --out bottles/labels > c2y.log
"$Y" split --images bottles/images_raw --labels bottles/labels --out . --exist-ok --ratios 0.6,0.2,0.2 --seed 1 > split.log
cp "$SHARED/fixtures/yolov5s_nc5_seed0.pt" yolov5s.pt
"$Y" train --img 300 --cfg yolov5s.yaml --hyp hyp.scratch-low.yaml --batch 128 \
  --epochs 1 --data dataset.yaml --weights yolov5s.pt --workers 24 --name yolo_bottle_det > train.log
grep -q "Transferred" train.log
test -f runs/train/yolo_bottle_det/weights/best.pt
test -f runs/train/yolo_bottle_det/results.csv
"$Y" detect --source images/test --weights runs/train/yolo_bottle_det/weights/best.pt \
  --conf 0.25 --name yolo_bottle_det > detect.log
test -n "$(ls runs/detect/yolo_bottle_det/*.jpg)"
# test-time augmentation (YOLOv5's --augment) in val and detect
"$Y" val --data dataset.yaml --weights runs/train/yolo_bottle_det/weights/best.pt --img 320 --task test \
  --augment --noplots --name aug > val_aug.log
grep -qE '^ +all ' val_aug.log
"$Y" detect --source images/test --weights runs/train/yolo_bottle_det/weights/best.pt --img 320 \
  --conf 0.01 --augment --save-txt --name aug > detect_aug.log
test -n "$(ls runs/detect/aug/*.jpg)"
# a knob out of range is refused by name before anything is written
if "$Y" synth --out badknob --per-class 1 --lying 1.5 > badknob.log 2>&1; then exit 1; fi
grep -q -- "--lying must be in 0..1" badknob.log
test ! -e badknob/coco_instances.json
if "$Y" synth --out badknob --per-class 1 --closeup-framed -1 > badknob.log 2>&1; then exit 1; fi
grep -q -- "--closeup-framed must be in 0..1" badknob.log
if "$Y" synth --out badknob --per-class 1 --stretch 2 > badknob.log 2>&1; then exit 1; fi
grep -q -- "--stretch must be in 0..1" badknob.log
if "$Y" synth --out badknob --per-class 1 --liquid -0.5 > badknob.log 2>&1; then exit 1; fi
grep -q -- "--liquid must be in 0..1" badknob.log
test ! -e badknob/coco_instances.json
# a model soup of two checkpoints of one run detects like any weights; a YOLOv5 .pt is refused
W=runs/train/yolo_bottle_det/weights
"$Y" average "$W/best.pt" "$W/last.pt" --out soup.pt > average.log
grep -q "averaged 2 checkpoints" average.log
"$Y" detect --source images/test --weights soup.pt --conf 0.25 --name soup > detect_soup.log
test -n "$(ls runs/detect/soup/*.jpg)"
if "$Y" average "$W/best.pt" yolov5s.pt --out bad_soup.pt > bad_average.log 2>&1; then exit 1; fi
grep -q "yolov5s.pt: a YOLOv5 .pt" bad_average.log
test ! -e bad_soup.pt
# a missing weights file explains where YOLOv5's weights come from
if "$Y" detect --source images/test --weights nowhere/yolov5m.pt > missing.log 2>&1; then exit 1; fi
grep -q "releases" missing.log
echo "tutorial commands: OK"
