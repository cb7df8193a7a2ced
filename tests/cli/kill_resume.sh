#!/usr/bin/env bash
# Crash-safe training: a real `yolite train` is killed with SIGKILL twice mid-run and resumed
# with --resume each time; the final last.pt and best.pt must hold bitwise the same tensors as
# an uninterrupted run with the same seed and thread count (`yolite compare`), and results.csv
# the same rows. Also: no temporary checkpoint files are left behind, and a truncated or
# bit-flipped last.pt is refused by --resume with a message naming the file.
# Tiny on purpose (yolov5n at 64 px, 8 rendered images, 6 epochs, 1 thread): ~25 s idle.
# usage: kill_resume.sh YOLITE_BINARY WORK_DIR
set -euo pipefail
Y="$1"; WORK="$2"
rm -rf "$WORK"; mkdir -p "$WORK"; cd "$WORK"
export OMP_NUM_THREADS=1
"$Y" synth --out bottles --per-class 2 --sizes 64 --seed 3 --no-test-image --threads 1 > synth.log 2>&1
"$Y" coco2yolo --coco bottles/coco_instances.json --images bottles/images_raw --out bottles/labels > c2y.log
"$Y" split --images bottles/images_raw --labels bottles/labels --out data --ratios 0.8,0.2,0 --seed 1 > split.log
# (the yolite process itself is started in the background below, never a shell function or
# subshell around it: SIGKILL must hit the training process, not a wrapper that leaves it running)
ARGS=(--img 64 --cfg yolov5n.yaml --batch 4 --epochs 6 --data data/dataset.yaml --weights ''
      --workers 1 --threads 1 --seed 7 --project runs --noplots --quiet)
header() { head -c 16384 "$1"; }  # a checkpoint's metadata sits at the start of its safetensors header
meta_epoch() {  # the "epoch" a checkpoint's metadata records
  header "$1" | grep -m 1 -ao '\\"epoch\\":[0-9]*' | grep -o '[0-9]*$'
}
# Starts `cmd...` in the background and SIGKILLs it as soon as runs/NAME/weights/last.pt records
# an epoch >= MIN_EPOCH (polling every 10 ms). The run must not have ended by itself: it dies
# of the signal and its last.pt is still resumable (the final step strips it).
kill_when() {  # name min_epoch cmd...
  local name="$1" min="$2"; shift 2
  "$@" > "kill_$name.$min.log" 2>&1 &
  local pid=$! last="runs/$name/weights/last.pt" e
  while kill -0 "$pid" 2> /dev/null; do
    if [ -f "$last" ] && e="$(meta_epoch "$last")" && [ "$e" -ge "$min" ]; then
      kill -9 "$pid"
      break
    fi
    sleep 0.01
  done
  local rc=0; wait "$pid" 2> /dev/null || rc=$?
  if [ "$rc" != 137 ] || ! header "$last" | grep -q -a 'resumable\\":true'; then
    echo "FAIL: run $name ended (exit status $rc) before it could be killed"; exit 1
  fi
  echo "killed $name (SIGKILL) after last.pt recorded epoch $(meta_epoch "$last") of 0..5"
}

"$Y" train "${ARGS[@]}" --name ref > ref.log
kill_when int 0 "$Y" train "${ARGS[@]}" --name int
kill_when int 2 "$Y" train --resume runs/int/weights/last.pt --quiet
"$Y" train --resume runs/int/weights/last.pt --quiet > resume.log
"$Y" compare runs/ref/weights/last.pt runs/int/weights/last.pt
"$Y" compare runs/ref/weights/best.pt runs/int/weights/best.pt
cmp runs/ref/results.csv runs/int/results.csv
if ls -a runs/*/weights | grep -q '\.tmp\.'; then echo "FAIL: temporary files left"; ls -a runs/*/weights; exit 1; fi

# A damaged checkpoint is refused, naming the file: truncated, and one flipped bit in the data.
kill_when dmg 0 "$Y" train "${ARGS[@]}" --name dmg
cp runs/dmg/weights/last.pt good.pt
head -c 100000 good.pt > runs/dmg/weights/last.pt
if "$Y" train --resume runs/dmg/weights/last.pt > trunc.log 2>&1; then echo "FAIL: truncated checkpoint accepted"; exit 1; fi
grep -q "runs/dmg/weights/last.pt.*truncated" trunc.log || { echo "FAIL: unexpected message:"; cat trunc.log; exit 1; }
cp good.pt runs/dmg/weights/last.pt
off=$(( $(stat -c %s good.pt) - 1000 ))   # inside the last tensor's bytes
byte=$(od -An -tu1 -j "$off" -N 1 good.pt | tr -d ' ')
printf "\\$(printf %03o $(( 255 - byte )))" | dd of=runs/dmg/weights/last.pt bs=1 seek="$off" conv=notrunc status=none
if "$Y" train --resume runs/dmg/weights/last.pt > flip.log 2>&1; then echo "FAIL: corrupted checkpoint accepted"; exit 1; fi
grep -q "runs/dmg/weights/last.pt: checkpoint is corrupted" flip.log || { echo "FAIL: unexpected message:"; cat flip.log; exit 1; }
echo "kill and resume: OK"
