#!/usr/bin/env bash
# benchmarks/mpi_scaling.sh -- the same work as 1 process x 2 threads and as 2 MPI ranks x 1
# thread, on this machine: `yolite synth` (images/s), `yolite val` (images/s) and `yolite train`
# (training images/s of the second epoch, yolov5n at 320, batch 16, fine-tuning the base model;
# the ranks with and without --sync-bn, and the share of rank 0's training time spent in
# communication), medians of RUNS runs, with the ratio (ranks / threads; above 1: the ranks are
# faster). Then the gradient sum itself against its peer, MPI_Allreduce (bench_allreduce).
#
#   bash benchmarks/mpi_scaling.sh [BUILD_DIR] [RUNS]      # default build/, 3 runs
#
# The ranks' times include mpirun starting them (printed at the end). What it shows: on one machine, MPI ranks and OpenMP threads compete for the same cores, so
# the ratio is about 1 -- ranks pay off across machines, where threads cannot go. What rank 0
# does alone (gathering the annotations and writing the json for synth; scoring every
# detection for val) is the serial part that bounds scaling to many ranks.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="$(realpath "${1:-$ROOT/build}")"
RUNS="${2:-3}"
Y="$BUILD/yolite"
command -v mpirun > /dev/null || { echo "mpi_scaling: mpirun not found (apt-get install openmpi-bin libopenmpi-dev)"; exit 1; }
"$Y" --version | grep -q "MPI: on" || { echo "mpi_scaling: $Y was built without MPI"; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,tcp OMPI_MCA_btl_tcp_if_include=lo
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
secs() { local t0 t1; t0=$(date +%s.%N); "$@" > /dev/null 2>&1; t1=$(date +%s.%N); awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}'; }

PER_CLASS=80   # 400 images at 300x300
echo "MPI scaling on $(nproc) cores, load before: $(cut -d' ' -f1-3 /proc/loadavg); median of $RUNS runs"
declare -A T
for mode in threads ranks; do
  ts=()
  for k in $(seq "$RUNS"); do
    rm -rf "s_$mode"
    if [ "$mode" = threads ]; then
      ts+=("$(secs env OMP_NUM_THREADS=2 "$Y" synth --out "s_$mode" --per-class $PER_CLASS --sizes 300 --seed 1 --threads 2)")
    else
      ts+=("$(secs env OMP_NUM_THREADS=1 mpirun --oversubscribe -np 2 "$Y" synth --out "s_$mode" --per-class $PER_CLASS --sizes 300 --seed 1 --threads 1)")
    fi
  done
  T[synth_$mode]=$(printf '%s\n' "${ts[@]}" | median)
done
N=$((PER_CLASS * 5))
cmp -s s_threads/coco_instances.json s_ranks/coco_instances.json || { echo "mpi_scaling: the two data sets differ"; exit 1; }
"$Y" coco2yolo --coco s_threads/coco_instances.json --images s_threads/images_raw --out s_threads/labels > /dev/null
"$Y" split --images s_threads/images_raw --labels s_threads/labels --out data --ratios 0.4,0.6,0 --seed 1 > /dev/null
NTRAIN=$(find data -path "*train*" -type f -name "*.jpg" | wc -l)
NVAL=$(find data -path "*val*" -type f -name "*.jpg" | wc -l)
for mode in threads ranks; do
  ts=()
  for k in $(seq "$RUNS"); do
    V=(val --data data/dataset.yaml --weights "$ROOT/models/yolite_base_n.pt" --img 320 --batch 16 --project runs --name v --exist-ok --noplots)
    if [ "$mode" = threads ]; then
      ts+=("$(secs env OMP_NUM_THREADS=2 "$Y" "${V[@]}" --workers 2)")
    else
      ts+=("$(secs env OMP_NUM_THREADS=1 mpirun --oversubscribe -np 2 "$Y" "${V[@]}" --workers 1)")
    fi
  done
  T[val_$mode]=$(printf '%s\n' "${ts[@]}" | median)
done
# training: images/s of epoch 1 (the second) from rank 0's progress line, and its communication share
for mode in threads ranks ranks_sync; do
  ips=(); share=(); gshare=()
  for k in $(seq "$RUNS"); do
    TR=(train --data data/dataset.yaml --weights "$ROOT/models/yolite_base_n.pt" --img 320 --batch 16 --epochs 2
        --noval --project runs --name t --exist-ok --noplots --no-tensorboard --seed 1)
    case $mode in
      threads)    env OMP_NUM_THREADS=2 "$Y" "${TR[@]}" --workers 2 --threads 2 > train.log 2>&1 ;;
      ranks)      env OMP_NUM_THREADS=1 mpirun --oversubscribe -np 2 "$Y" "${TR[@]}" --workers 1 --threads 1 > train.log 2>&1 ;;
      ranks_sync) env OMP_NUM_THREADS=1 mpirun --oversubscribe -np 2 "$Y" "${TR[@]}" --workers 1 --threads 1 --sync-bn > train.log 2>&1 ;;
    esac
    ips+=("$(tr '\r' '\n' < train.log | grep -E '^ +1/1 ' | tail -n 1 | sed -E 's/.*, ([0-9.]+)it\/s\].*/\1/' | awk '{print $1 * 16}')")
    [ "$mode" = threads ] || share+=("$(grep -oE 'spent [0-9]+% of its training time' train.log | tail -n 1 | grep -oE '[0-9]+')")
    [ "$mode" = threads ] || gshare+=("$(grep -oE '[0-9]+% summing gradients' train.log | tail -n 1 | grep -oE '^[0-9]+')")
  done
  T[train_$mode]=$(printf '%s\n' "${ips[@]}" | median)
  [ "$mode" = threads ] || T[share_$mode]=$(printf '%s\n' "${share[@]}" | median)
  [ "$mode" = threads ] || T[gshare_$mode]=$(printf '%s\n' "${gshare[@]}" | median)
  if [ "$mode" = ranks ]; then
    GRAD_BYTES=$(grep -oE '[0-9]+ bytes per optimizer step' train.log | tail -n 1 | cut -d' ' -f1)
    GRAD_MS=$(grep -oE 'step, [0-9.]+ ms each' train.log | tail -n 1 | grep -oE '[0-9.]+')
  fi
done
for job in synth val; do
  a=${T[${job}_threads]} b=${T[${job}_ranks]} n=$N
  [ "$job" = val ] && n=$NVAL
  awk -v j="$job" -v n="$n" -v a="$a" -v b="$b" 'BEGIN {
    printf "%-5s %d images: 1 rank x 2 threads %6.1f img/s (%.1f s), 2 ranks x 1 thread %6.1f img/s (%.1f s), ratio %.2f\n",
           j, n, n / a, a, n / b, b, a / b }'
done
awk -v n="$NTRAIN" -v a="${T[train_threads]}" -v b="${T[train_ranks]}" -v c="${T[train_ranks_sync]}" \
    -v sb="${T[share_ranks]}" -v sc="${T[share_ranks_sync]}" -v gb="${T[gshare_ranks]}" -v gc="${T[gshare_ranks_sync]}" \
    -v g="$GRAD_BYTES" -v ms="$GRAD_MS" 'BEGIN {
  printf "train %d images: 1 rank x 2 threads %6.1f img/s, 2 ranks x 1 thread %6.1f img/s (ratio %.2f; %d%% of the time communicating, %d%% moving gradients), with --sync-bn %6.1f img/s (ratio %.2f; %d%%, %d%%)\n",
         n, a, b, b / a, sb, gb, c, c / a, sc, gc
  printf "      gradients summed per optimizer step (every 64 images after the warm-up, every batch during it): %.2f MB in %.1f ms (last run; %.0f MB/s of gradients)\n",
         g / 1e6, ms, g / 1e3 / ms }'
if [ -x "$BUILD/benchmarks/bench_allreduce" ]; then
  OMP_NUM_THREADS=1 mpirun --oversubscribe -np 2 "$BUILD/benchmarks/bench_allreduce" --runs 15 | sed 's/^/  /'
fi
ls=()
for k in $(seq "$RUNS"); do ls+=("$(secs mpirun --oversubscribe -np 2 true)"); done
echo "(the ranks' times include starting them: mpirun -np 2 true takes $(printf '%s\n' "${ls[@]}" | median | xargs printf '%.2f') s here)"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
