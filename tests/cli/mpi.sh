#!/usr/bin/env bash
# `mpirun -np 2 yolite ...` against one process (1 thread per rank, --oversubscribe so it runs
# on any machine):
#   synth  the same files, byte for byte, as one process with the same seed (contact sheet too);
#   val    the same table (every class row, P R mAP50 mAP50-95, and the COCO-exact line);
#   train  refused with one line (it runs as one process), no hang;
#   an error (a missing weights file) stops the job with one line per rank, no hang.
# usage: mpi.sh YOLITE_BINARY MPIRUN WORK_DIR SOURCE_DIR
set -euo pipefail
Y="$1"; MPIRUN="$2"; WORK="$3"; SRC="$4"
rm -rf "$WORK"; mkdir -p "$WORK"; cd "$WORK"
export OMP_NUM_THREADS=1
# root is allowed in CI containers; a loopback-only TCP transport needs no network set-up
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,tcp
export OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo OMPI_MCA_rmaps_base_oversubscribe=1
MPI=("$MPIRUN" --oversubscribe -np 2)
fail() { echo "FAIL: $*"; exit 1; }

SYNTH=(synth --per-class 5 --sizes 96,128 --seed 11 --threads 1 --mixed)
"$Y" "${SYNTH[@]}" --out one --contact-sheet one_sheet.jpg > synth1.log 2>&1 || { cat synth1.log; fail "synth, 1 process"; }
timeout 300 "${MPI[@]}" "$Y" "${SYNTH[@]}" --out two --contact-sheet two_sheet.jpg > synth2.log 2>&1 ||
  { cat synth2.log; fail "synth, 2 ranks"; }
grep -q "x 2 ranks" synth2.log || { cat synth2.log; fail "synth did not run as 2 ranks"; }
diff -r one two > /dev/null || { diff -r one two | head; fail "synth: 2 ranks wrote different files"; }
cmp one_sheet.jpg two_sheet.jpg || fail "synth: the contact sheets differ"
echo "synth: 2 ranks wrote the same $(ls two/images_raw | wc -l) images, json and sheet as 1 process"

"$Y" coco2yolo --coco one/coco_instances.json --images one/images_raw --out one/labels > c2y.log
"$Y" split --images one/images_raw --labels one/labels --out data --ratios 0.5,0.5,0 --seed 1 > split.log
VAL=(val --data data/dataset.yaml --weights "$SRC/models/yolite_base_n.pt" --img 128 --batch 2
     --workers 1 --project runs --exist-ok)
table() { sed -n '/Class/,/COCO-exact/p' "$1"; }
"$Y" "${VAL[@]}" --name one > val1.log 2>&1 || { cat val1.log; fail "val, 1 process"; }
timeout 300 "${MPI[@]}" "$Y" "${VAL[@]}" --name two > val2.log 2>&1 || { cat val2.log; fail "val, 2 ranks"; }
grep -q "per rank of 2" val2.log || { cat val2.log; fail "val did not run as 2 ranks"; }
[ "$(table val1.log | wc -l)" -ge 3 ] || { cat val1.log; fail "val printed no table"; }
[ "$(table val1.log)" = "$(table val2.log)" ] || { diff <(table val1.log) <(table val2.log); fail "val: 2 ranks print another table"; }
[ "$(grep -c '^ *all ' val2.log)" = 1 ] || fail "val: the table was printed more than once"
echo "val: 2 ranks print the same table as 1 process"

rc=0; timeout 120 "${MPI[@]}" "$Y" train --data data/dataset.yaml --cfg yolov5n.yaml --img 64 --epochs 1 \
  --project runs --name t > train2.log 2>&1 || rc=$?
[ "$rc" != 0 ] && [ "$rc" != 124 ] || { cat train2.log; fail "train under 2 ranks: exit $rc (expected a refusal)"; }
grep -q "runs as one process" train2.log || { cat train2.log; fail "train under 2 ranks: no clear message"; }
[ ! -e runs/t ] || fail "train under 2 ranks left a run folder"

rc=0; timeout 120 "${MPI[@]}" "$Y" val --data data/dataset.yaml --weights missing.pt --img 128 > bad.log 2>&1 || rc=$?
[ "$rc" != 0 ] && [ "$rc" != 124 ] || { cat bad.log; fail "val with missing weights under 2 ranks: exit $rc"; }
grep -q "missing.pt" bad.log || { cat bad.log; fail "the error does not name the file"; }
echo "train refused and a bad input stopped the job, each with a clear line"
echo "mpi: ok"
