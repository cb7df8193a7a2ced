#!/usr/bin/env bash
# benchmarks/mpi_scaling.sh -- the same work as 1 process x 2 threads and as 2 MPI ranks x 1
# thread, on this machine: `yolite synth` (images/s) and `yolite val` (images/s), medians of
# RUNS runs, with the ratio (ranks / threads; above 1: the ranks are faster).
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
"$Y" split --images s_threads/images_raw --labels s_threads/labels --out data --ratios 0.2,0.8,0 --seed 1 > /dev/null
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
for job in synth val; do
  a=${T[${job}_threads]} b=${T[${job}_ranks]} n=$N
  [ "$job" = val ] && n=$NVAL
  awk -v j="$job" -v n="$n" -v a="$a" -v b="$b" 'BEGIN {
    printf "%-5s %d images: 1 rank x 2 threads %6.1f img/s (%.1f s), 2 ranks x 1 thread %6.1f img/s (%.1f s), ratio %.2f\n",
           j, n, n / a, a, n / b, b, a / b }'
done
ls=()
for k in $(seq "$RUNS"); do ls+=("$(secs mpirun --oversubscribe -np 2 true)"); done
echo "(the ranks' times include starting them: mpirun -np 2 true takes $(printf '%s\n' "${ls[@]}" | median | xargs printf '%.2f') s here)"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
