#!/usr/bin/env bash
# Bad inputs through the real CLI: every case must exit non-zero, print a last line
# "yolite <command>: ..." (or CLI11's flag message) that names the file or flag at fault, and
# leave no partial output behind (no output folder with files in it, no temporary files).
# With --table it prints the markdown table of docs/bad_inputs.md (case, command, message).
# usage: bad_inputs.sh YOLITE_BINARY SHARED_DIR WORK_DIR [--table]
set -uo pipefail
Y="$1"; SHARED="$2"; WORK="$3"; TABLE="${4:-}"
rm -rf "$WORK"; mkdir -p "$WORK"; cd "$WORK" || exit 1
export OMP_NUM_THREADS=1
fails=0; n=0

# --- material: a tiny rendered data set, the fixture checkpoint, damaged copies -------------
"$Y" synth --out bottles --per-class 1 --sizes 64 --seed 3 --no-test-image --threads 1 > /dev/null 2>&1
"$Y" coco2yolo --coco bottles/coco_instances.json --images bottles/images_raw --out labels > /dev/null
"$Y" split --images bottles/images_raw --labels labels --out data --ratios 0.6,0.4,0 --seed 1 > /dev/null
cp "$SHARED/fixtures/yolov5n_nc5_seed0.pt" n.pt
img=$(ls bottles/images_raw/*.jpg | head -n 1)
mkdir -p in
printf '{"images": [{"id": 1, "file_name": "a.jpg", "width": 64, "height": 48}], "annotations": [' > in/truncated.json
printf '{"images": [{"id": 1, "file_name": "a.jpg", "width": 64}], "annotations": [], "categories": []}' > in/nokey.json
printf '{"images": [{"id": 1, "file_name": "a.jpg", "width": 64, "height": 48}], "annotations": [], "categories": [{"id": 1, "name": "x"}]}' > in/ok.json
printf '{"images": [{"id": 1, "file_name": "a.jpg", "width": 64, "height": 48}], "annotations": [{"id": 1, "image_id": 2, "category_id": 1, "bbox": [1, 2, 3, 4]}], "categories": [{"id": 1, "name": "x"}]}' > in/noimage.json
head -c 2000 "$img" > in/corrupt.jpg
printf 'not an image at all' > in/text.jpg
head -c 100000 n.pt > in/truncated.pt
cp n.pt in/flipped.pt; printf 'Z' | dd of=in/flipped.pt bs=1 seek=2000000 conv=notrunc status=none
printf '\x93NUMPY\x01\x00\x76\x00{'"'"'descr'"'"': '"'"'<f4'"'"', '"'"'fortran_order'"'"': False, '"'"'shape'"'"': (3, 64, 64), }' > in/chw.npy
while [ $(( $(stat -c %s in/chw.npy) % 64 )) != 63 ]; do printf ' ' >> in/chw.npy; done; printf '\n' >> in/chw.npy
head -c $((3 * 64 * 64 * 4)) /dev/zero >> in/chw.npy
cp data/dataset.yaml in/badnc.yaml; sed -i 's/^nc: 5/nc: 7/' in/badnc.yaml
printf 'lr0: 0.01\nlrf: 0.01\nmomentun: 0.937\n' > in/typo_hyp.yaml
mkdir -p badlabels/images/train badlabels/labels/train
cp "$img" badlabels/images/train/a.jpg
printf '0 0.5 0.5 0.2 0.2\n7 0.5 0.5 0.2 0.2\n' > badlabels/labels/train/a.txt
printf 'path: %s\ntrain: images/train\nval: images/train\nnames: [a, b, c, d, e]\n' "$PWD/badlabels" > in/badlabels.yaml
# files that claim huge sizes (refused from their headers, before allocating)
le64() { local v=$1 i; for i in 0 1 2 3 4 5 6 7; do printf "\\$(printf %03o $(( (v >> (8 * i)) & 255 )))"; done; }
le32() { local v=$1 i; for i in 0 1 2 3; do printf "\\$(printf %03o $(( (v >> (8 * i)) & 255 )))"; done; }
hdr='{"w":{"dtype":"F32","shape":[1000000,1000000000],"data_offsets":[0,4000000000000000]}}'
while [ $(( ${#hdr} % 8 )) != 0 ]; do hdr="$hdr "; done
{ le64 ${#hdr}; printf '%s' "$hdr"; head -c 16 /dev/zero; } > in/huge.safetensors
{ printf 'BM'; le32 54; le32 0; le32 54; le32 40; le32 100000; le32 100000; printf '\001\000\030\000'; head -c 24 /dev/zero; } > in/huge.bmp
{ printf '\223NUMPY\001\000\166\000'; printf "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000000,), }"; } > in/huge.npy
while [ $(( $(stat -c %s in/huge.npy) % 64 )) != 63 ]; do printf ' ' >> in/huge.npy; done; printf '\n' >> in/huge.npy
printf 'path: %s\ntrain: images\nval: images\nnc: 1000000000000\n' "$PWD/data" > in/hugenc.yaml
mkdir -p empty bigclass; printf '999999999 0.5 0.5 0.1 0.1\n' > bigclass/a.txt
printf 'path: %s\ntrain: images/missing\nval: images/train\nnames: [a]\n' "$PWD/badlabels" > in/missing_split.yaml

# case DESCRIPTION EXPECT OUTPUT_PATH -- command...   (EXPECT: text the message must contain;
# OUTPUT_PATH: where output would go; it must not exist afterwards, or hold no files, "-": none)
case_() {
  local desc="$1" expect="$2" out="$3"; shift 4
  n=$((n + 1))
  local log="case$n.log" rc=0
  "$Y" "$@" > "$log.out" 2> "$log" || rc=$?
  # the message: stderr (one line; CLI11 adds "Run with --help ..." after a flag error, detect
  # warns about each image it skips before its error line)
  local msg; msg="$(grep . "$log" | grep -v '^Run with --help' | sed ':a;N;$!ba;s/\n/` <br> `/g')"
  [ -n "$msg" ] || msg="$(tail -n 1 "$log.out")"
  local ok=1 why=""
  if [ "$rc" = 0 ]; then ok=0; why="exit status 0"; fi
  if [[ "$msg" != *"$expect"* ]]; then ok=0; why="$why; message lacks '$expect'"; fi
  if [ "$out" != - ] && [ -e "$out" ] && [ -n "$(find "$out" -type f 2> /dev/null | head -n 1)" ]; then
    ok=0; why="$why; partial output left in $out"
  fi
  if [ -n "$(find . -name '.*.tmp.*' 2> /dev/null | head -n 1)" ]; then ok=0; why="$why; temporary file left"; fi
  if [ "$ok" = 0 ]; then
    fails=$((fails + 1)); echo "FAIL: $desc: $why"; echo "  command: yolite $*"; echo "  output:"; sed 's/^/    /' "$log"
  fi
  if [ "$TABLE" = --table ]; then
    local cmd="yolite $*"
    printf '| %s | `%s` | %s | `%s` |\n' "$desc" "${cmd//|/\\|}" "$rc" "${msg//|/\\|}"
  fi
}

case_ "COCO json cut off mid-array" "in/truncated.json" out1 -- coco2yolo --coco in/truncated.json --out out1
case_ "COCO image without height" "in/nokey.json" out2 -- coco2yolo --coco in/nokey.json --out out2
case_ "COCO annotation of a missing image" "in/noimage.json" out3 -- coco2yolo --coco in/noimage.json --out out3
case_ "COCO file that does not exist" "in/none.json" out4 -- coco2yolo --coco in/none.json --out out4
case_ "COCO image file missing on disk" "a.jpg" out5 -- coco2yolo --coco in/ok.json --images in --out out5
case_ "truncated JPEG" "in/corrupt.jpg" runs/detect/d1 -- detect --source in/corrupt.jpg --weights n.pt --project runs/detect --name d1
case_ "text file named .jpg" "in/text.jpg" runs/detect/d2 -- detect --source in/text.jpg --weights n.pt --project runs/detect --name d2
case_ "image source that does not exist" "in/nothing.jpg" runs/detect/d3 -- detect --source in/nothing.jpg --weights n.pt --project runs/detect --name d3
case_ "truncated YOLOv5 .pt" "in/truncated.pt" runs/detect/d4 -- detect --source "$img" --weights in/truncated.pt --project runs/detect --name d4
case_ "YOLOv5 .pt with a damaged byte" "in/flipped.pt" runs/detect/d5 -- detect --source "$img" --weights in/flipped.pt --project runs/detect --name d5
case_ "weights file missing" "nowhere/yolov5m.pt" runs/detect/d6 -- detect --source "$img" --weights nowhere/yolov5m.pt --project runs/detect --name d6
case_ "input tensor of the wrong rank" "in/chw.npy" out.npy -- forward --weights n.pt --input in/chw.npy --output out.npy
case_ "npy input that does not exist" "in/none.npy" out.npy -- forward --weights n.pt --input in/none.npy --output out.npy
case_ "weights given a COCO json" "in/noimage.json" out.npy -- forward --weights in/noimage.json --input in/chw.npy --output out.npy
case_ "dataset yaml: nc disagrees with names" "in/badnc.yaml" runs/train/t1 -- train --data in/badnc.yaml --weights '' --cfg yolov5n.yaml --img 64 --epochs 1 --project runs/train --name t1
case_ "dataset yaml missing" "in/none.yaml" runs/train/t2 -- train --data in/none.yaml --weights '' --cfg yolov5n.yaml --img 64 --epochs 1 --project runs/train --name t2
case_ "dataset split folder missing" "images/missing" runs/train/t3 -- train --data in/missing_split.yaml --weights '' --cfg yolov5n.yaml --img 64 --epochs 1 --project runs/train --name t3
case_ "label class out of range" "a.txt:2" runs/train/t4 -- train --data in/badlabels.yaml --weights '' --cfg yolov5n.yaml --img 64 --epochs 1 --project runs/train --name t4
case_ "hyp yaml with a misspelt key" "in/typo_hyp.yaml:3" runs/train/t5 -- train --data data/dataset.yaml --hyp in/typo_hyp.yaml --weights '' --cfg yolov5n.yaml --img 64 --epochs 1 --project runs/train --name t5
case_ "resume from a truncated checkpoint" "in/truncated.pt" - -- train --resume in/truncated.pt
case_ "average of one checkpoint" "two or more checkpoints" soup1.pt -- average n.pt --out soup1.pt
case_ "average of a YOLOv5 .pt" "n.pt: a YOLOv5 .pt" soup2.pt -- average n.pt n.pt --out soup2.pt
case_ "average of a file that is not a checkpoint" "in/noimage.json" soup3.pt -- average in/noimage.json in/noimage.json --out soup3.pt
case_ "unknown model cfg" "yolov5q" runs/train/t6 -- train --data data/dataset.yaml --weights '' --cfg yolov5q.yaml --img 64 --epochs 1 --project runs/train --name t6
case_ "GPU asked for (CPU build)" "--device" runs/train/t7 -- train --data data/dataset.yaml --weights '' --cfg yolov5n.yaml --img 64 --epochs 1 --device 0 --project runs/train --name t7
case_ "negative image size" "--img" runs/train/t8 -- train --data data/dataset.yaml --weights '' --cfg yolov5n.yaml --img -64 --epochs 1 --project runs/train --name t8
case_ "zero epochs" "--epochs" runs/train/t9 -- train --data data/dataset.yaml --weights '' --cfg yolov5n.yaml --img 64 --epochs 0 --project runs/train --name t9
case_ "confidence outside [0, 1]" "--conf-thres" runs/detect/d7 -- detect --source "$img" --weights n.pt --conf 2 --project runs/detect --name d7
case_ "bad --grid" "--grid" runs/detect/d8 -- detect --source "$img" --weights n.pt --grid 0x4 --project runs/detect --name d8
case_ "unknown flag" "--colour" - -- detect --source "$img" --weights n.pt --colour red
case_ "split ratios that do not sum to 1" "ratios" out6 -- split --images bottles/images_raw --labels labels --out out6 --ratios 0.5,0.6,0
case_ "split of a folder without images" "empty" out7 -- split --images empty --labels labels --out out7
case_ "label class of 10^9 (stats would size tables by it)" "bigclass/a.txt:1" - -- stats bigclass

case_ "safetensors tensor claiming 10^15 elements" "in/huge.safetensors" out.npy -- forward --weights in/huge.safetensors --input in/chw.npy --output out.npy
case_ "npy header claiming 10^15 elements" "in/huge.npy" out.npy -- forward --weights n.pt --input in/huge.npy --output out.npy
case_ "BMP header claiming 100000 x 100000 pixels" "in/huge.bmp" runs/detect/d9 -- detect --source in/huge.bmp --weights n.pt --project runs/detect --name d9
case_ "dataset yaml claiming 10^12 classes" "in/hugenc.yaml:4" runs/train/t10 -- train --data in/hugenc.yaml --weights '' --cfg yolov5n.yaml --img 64 --epochs 1 --project runs/train --name t10
mkdir -p nophotos; printf 'no photos here' > nophotos/readme.txt
case_ "synth backgrounds folder without a usable photo" "nophotos" s1 -- synth --out s1 --per-class 1 --sizes 64 --backgrounds nophotos --no-test-image
case_ "synth backgrounds folder that does not exist" "in/nowhere" s2 -- synth --out s2 --per-class 1 --sizes 64 --backgrounds in/nowhere --no-test-image
case_ "synth --background-prob out of range" "--background-prob" s3 -- synth --out s3 --per-class 1 --sizes 64 --backgrounds in --background-prob 2 --no-test-image
mkdir -p badfonts; printf 'not a font' > badfonts/fake.ttf
case_ "synth --fonts folder with a file that is not a font" "badfonts/fake.ttf" s4 -- synth --out s4 --per-class 1 --sizes 64 --text-labels 0.5 --fonts badfonts --no-test-image
case_ "synth --fonts folder without fonts" "nophotos" s5 -- synth --out s5 --per-class 1 --sizes 64 --text-labels 0.5 --fonts nophotos --no-test-image
case_ "synth --shadows out of range" "--shadows" s6 -- synth --out s6 --per-class 1 --sizes 64 --shadows 1.5 --no-test-image

echo "bad inputs: $n cases, $fails failed"
[ "$fails" = 0 ]
