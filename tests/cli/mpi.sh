#!/usr/bin/env bash
# `mpirun -np 2 yolite ...` against one process (1 thread per rank, --oversubscribe so it runs
# on any machine):
#   synth  the same files, byte for byte, as one process with the same seed (contact sheet too);
#   val    the same table (every class row, P R mAP50 mAP50-95, and the COCO-exact line);
#   train  2 ranks x 8 images (--sync-bn) reach the weights of 1 process x 16 within 1e-5 after
#          4 steps -- not bit for bit: the convolutions' weight gradients and BatchNorm's sums
#          add 8 + 8 images where one process adds 16 in one go, and float addition is not
#          associative (a thread-count change moves the bits the same way); without --sync-bn
#          each rank normalises by its own 8 images and the weights differ by far more. A run
#          with pending accumulated gradients resumes on the other rank count (2 -> 1, 1 -> 2)
#          and ends where the run it continues ends, within 1e-4 after 16 more steps; a last
#          batch with fewer images than ranks is skipped with a warning;
#   detect (a command that runs as one process) refuses with one line, no hang;
#   a rank killed mid-training stops the job; a rank that hangs makes the others stop after
#   YOLITE_MPI_TIMEOUT seconds with a line naming the wait; an error (a missing weights file)
#   stops the job with one line per rank. None of them hangs.
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

# ---- data-parallel training: 32 training images, 64 px, yolov5n from scratch
"$Y" synth --per-class 8 --sizes 96,128 --seed 5 --threads 1 --mixed --out tset > tsynth.log 2>&1 || { cat tsynth.log; fail "synth for training"; }
"$Y" coco2yolo --coco tset/coco_instances.json --images tset/images_raw --out tset/labels > /dev/null
"$Y" split --images tset/images_raw --labels tset/labels --out tdata --ratios 0.8,0.2,0 --seed 1 > /dev/null
[ "$(ls tdata/images/train | wc -l)" = 32 ] || fail "expected 32 training images, got $(ls tdata/images/train | wc -l)"
BASE=(train --data tdata/dataset.yaml --cfg yolov5n.yaml --img 64 --workers 1 --threads 1 --seed 3
      --project runs --exist-ok --noplots --no-tensorboard)
TRAIN=("${BASE[@]}" --epochs 2 --save-period 1)
"$Y" "${TRAIN[@]}" --batch 16 --name one > train1.log 2>&1 || { cat train1.log; fail "train, 1 process"; }
timeout 300 "${MPI[@]}" "$Y" "${TRAIN[@]}" --batch 16 --sync-bn --name two > train2.log 2>&1 || { cat train2.log; fail "train, 2 ranks"; }
grep -q "Data-parallel: 2 ranks, each 8-8 images of every batch of 16" train2.log || { cat train2.log; fail "train did not run as 2 ranks"; }
[ "$(grep -c '^Results saved' train2.log)" = 1 ] || { cat train2.log; fail "train: more than one rank printed the results"; }
"$Y" compare runs/one/weights/epoch1.pt runs/two/weights/epoch1.pt --prefix model. --atol 1e-5 ||
  fail "train: 2 ranks x 8 (--sync-bn) are not within 1e-5 of 1 process x 16"
timeout 300 "${MPI[@]}" "$Y" "${TRAIN[@]}" --batch 16 --name own > train_own.log 2>&1 || { cat train_own.log; fail "train, 2 ranks without --sync-bn"; }
if "$Y" compare runs/one/weights/epoch1.pt runs/own/weights/epoch1.pt --prefix model. --atol 1e-5 > own.cmp; then
  cat own.cmp; fail "train: without --sync-bn the weights should differ by more than 1e-5 (the tolerance tells nothing)"
fi
echo "train: 2 ranks x 8 (--sync-bn) within 1e-5 of 1 process x 16; per-rank BatchNorm: $(cat own.cmp)"

# 3 ranks, batch 10 of 32 images: the last batch (2 images) leaves a rank without any: skipped by
# all, with a warning, and kept out of the mean losses
timeout 300 "$MPIRUN" --oversubscribe -np 3 "$Y" "${BASE[@]}" --epochs 1 --batch 10 --noval --name three > three.log 2>&1 ||
  { cat three.log; fail "train, 3 ranks"; }
grep -q "batch 3: 2 images for 3 ranks leave a rank without any; skipped" three.log || { cat three.log; fail "train, 3 ranks: no warning for the short batch"; }
echo "train: 3 ranks skip a last batch with fewer images than ranks, with a warning"

# resume on another rank count, with pending gradients (batch 2: the accumulation over the
# warm-up leaves gradients pending at the end of epoch 0)
RES=("${TRAIN[@]}" --batch 2 --sync-bn --noval)
"$Y" "${RES[@]}" --name r1 > r1.log 2>&1 || { cat r1.log; fail "train batch 2, 1 process"; }
timeout 300 "${MPI[@]}" "$Y" "${RES[@]}" --name r2 > r2.log 2>&1 || { cat r2.log; fail "train batch 2, 2 ranks"; }
"$Y" compare runs/r2/weights/epoch0.pt runs/r2/weights/epoch0.pt --prefix grad. > /dev/null ||
  fail "train: epoch0.pt holds no pending gradients (the resume test would test nothing)"
cp -r runs/r2 runs/r2to1; cp -r runs/r1 runs/r1to2
"$Y" train --resume runs/r2to1/weights/epoch0.pt > r2to1.log 2>&1 || { cat r2to1.log; fail "resume 2 ranks' run on 1"; }
timeout 300 "${MPI[@]}" "$Y" train --resume runs/r1to2/weights/epoch0.pt > r1to2.log 2>&1 || { cat r1to2.log; fail "resume 1 process's run on 2 ranks"; }
"$Y" compare runs/r2/weights/epoch1.pt runs/r2to1/weights/epoch1.pt --prefix model. --atol 1e-4 ||
  fail "train: 2 ranks' run resumed on 1 process ends elsewhere"
"$Y" compare runs/r1/weights/epoch1.pt runs/r1to2/weights/epoch1.pt --prefix model. --atol 1e-4 ||
  fail "train: 1 process's run resumed on 2 ranks ends elsewhere"
echo "train: runs resume on the other rank count"

# a rank that dies, and one that hangs, stop the job
ranks_of() {  # the pids of this job's ranks (rank $1, or all): yolite processes with its tag
  for e in /proc/[0-9]*/environ; do
    tr '\0' '\n' < "$e" 2>/dev/null | grep -qx "YOLITE_TEST_TAG=$TAG" || continue
    tr '\0' '\n' < "$e" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=${1:-[0-9]*}" || continue
    [ "$(cat "${e%/environ}/comm" 2>/dev/null)" = yolite ] && basename "${e%/environ}"
  done
}
rank1() {  # the pid of rank 1, once the job is training
  for k in $(seq 300); do
    if grep -q "Starting training" "$1" 2>/dev/null; then
      p=$(ranks_of 1)
      [ -n "$p" ] && { echo "$p"; return; }
    fi
    sleep 0.2
  done
}
LONG=("${BASE[@]}" --batch 16 --epochs 100)
for how in KILL STOP; do
  t0=$SECONDS
  TAG="mpi-test-$$-$how"  # marks this job's ranks (another job on the machine is left alone)
  YOLITE_TEST_TAG=$TAG YOLITE_MPI_TIMEOUT=5 timeout 120 "${MPI[@]}" "$Y" "${LONG[@]}" --name "rank_$how" > "rank_$how.log" 2>&1 &
  job=$!
  p=$(rank1 "rank_$how.log")
  [ -n "$p" ] || { cat "rank_$how.log"; fail "rank 1 never started training"; }
  kill -"$how" "$p"
  rc=0; wait "$job" || rc=$?
  [ "$rc" != 0 ] && [ "$rc" != 124 ] || { cat "rank_$how.log"; fail "rank 1 $how: exit $rc"; }
  [ $((SECONDS - t0)) -lt 90 ] || fail "rank 1 $how: the job took $((SECONDS - t0)) s to stop"
  [ "$how" = KILL ] || grep -q "no answer from the other ranks for 5 s" "rank_$how.log" || { cat "rank_$how.log"; fail "a hanging rank: no clear line"; }
  for k in $(seq 50); do [ -z "$(ranks_of)" ] && break; sleep 0.2; done
  [ -z "$(ranks_of)" ] || fail "rank 1 $how: ranks left running after the job ended"
  echo "train: rank 1 $how -> the job stopped in $((SECONDS - t0)) s (exit $rc)"
done

rc=0; timeout 120 "${MPI[@]}" "$Y" detect --source tdata/images/val --weights "$SRC/models/yolite_base_n.pt" \
  --project runs --name d > detect2.log 2>&1 || rc=$?
[ "$rc" != 0 ] && [ "$rc" != 124 ] || { cat detect2.log; fail "detect under 2 ranks: exit $rc (expected a refusal)"; }
grep -q "runs as one process" detect2.log || { cat detect2.log; fail "detect under 2 ranks: no clear message"; }
[ ! -e runs/d ] || fail "detect under 2 ranks left a run folder"

rc=0; timeout 120 "${MPI[@]}" "$Y" val --data data/dataset.yaml --weights missing.pt --img 128 > bad.log 2>&1 || rc=$?
[ "$rc" != 0 ] && [ "$rc" != 124 ] || { cat bad.log; fail "val with missing weights under 2 ranks: exit $rc"; }
grep -q "missing.pt" bad.log || { cat bad.log; fail "the error does not name the file"; }
echo "detect refused and a bad input stopped the job, each with a clear line"
echo "mpi: ok"
