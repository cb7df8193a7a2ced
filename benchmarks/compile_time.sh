#!/usr/bin/env bash
# benchmarks/compile_time.sh -- how long a program that embeds yolite takes to compile.
#
#   bash benchmarks/compile_time.sh [RUNS]        # default 3 runs per case, median printed
#
# The program is the README's: include a header, load a Detector, detect in one photo. Cases:
#   header-only (the default: every file compiles the whole library it uses)
#     umbrella -O2   #include <yolite/yolite.hpp>          (everything)
#     umbrella -O0
#     detector -O2   #include <yolite/infer/detector.hpp>  (only what detection needs)
#   separate mode (-DYOLITE_SEPARATE_IMPL: declarations only, core/api.hpp)
#     umbrella -O2, detector -O2 as above
#     implementation -O2: the one file that compiles the API's bodies (cmake/yolite_implementation.cpp),
#                         built once, not on every edit of the program
# Compiled as the CMake target compiles users' code (g++ -std=c++20 -fopenmp, the include
# paths of Eigen, stb and the library, -DYOLITE_HAVE_LIBJPEG), object file only (no link), one
# compiler at a time. Wall seconds; the machine's load is printed first, since a busy machine
# compiles slower.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUNS="${1:-3}"
CXX="${CXX:-g++}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

cat > "$WORK/umbrella.cpp" <<'EOF'
#include <cstdio>
#include <yolite/yolite.hpp>
int main(int argc, char** argv) {
  yolite::Detector det(argc > 1 ? argv[1] : "best.pt");
  for (const yolite::Detection& d : det.detect(argc > 2 ? argv[2] : "photo.jpg"))
    std::printf("%s %.2f [%.0f %.0f %.0f %.0f]\n", det.name(d.cls).c_str(), d.score, d.x1, d.y1, d.x2, d.y2);
}
EOF
sed 's|#include <yolite/yolite.hpp>|#include <yolite/infer/detector.hpp>|' "$WORK/umbrella.cpp" > "$WORK/detector.cpp"

FLAGS=(-std=c++20 -fopenmp -I"$ROOT/include" -isystem /usr/include/eigen3 -isystem /usr/include/stb -DYOLITE_HAVE_LIBJPEG)
echo "compile time of a one-file program that embeds yolite ($CXX $("$CXX" -dumpfullversion), median of $RUNS)"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
cp "$ROOT/cmake/yolite_implementation.cpp" "$WORK/implementation.cpp"
for c in "header-only umbrella -O2" "header-only umbrella -O0" "header-only detector -O2" \
         "separate umbrella -O2" "separate detector -O2" "separate implementation -O2"; do
  set -- $c
  label=$1 mode=()
  [ "$label" = separate ] && mode=(-DYOLITE_SEPARATE_IMPL)
  shift
  times=()
  for _ in $(seq "$RUNS"); do
    t0=$(date +%s.%N)
    "$CXX" "${FLAGS[@]}" "${mode[@]}" "$2" -c "$WORK/$1.cpp" -o "$WORK/$1.o"
    t1=$(date +%s.%N)
    times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')")
  done
  printf '  %-11s %-14s %s  %6.1f s   (runs: %s)\n' "$label" "$1" "$2" "$(printf '%s\n' "${times[@]}" | median)" \
    "$(printf '%.1f ' "${times[@]}")"
done
