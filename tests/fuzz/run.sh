#!/usr/bin/env bash
# tests/fuzz/run.sh SECONDS -- build every libFuzzer target (tests/fuzz/fuzz_*.cpp) with clang-14
# + ASan + UBSan into its own build folder and run each for SECONDS from a seed corpus of real
# files. Exit status 0 only if no target found a crash, a leak, a sanitizer report, an
# out-of-memory or a timeout.
#
#   bash tests/fuzz/run.sh 60                    # every target, 60 s each, 2 at a time
#   FUZZ_TARGETS="coco yaml" bash tests/fuzz/run.sh 10
#   bash build-fuzz/fuzz_coco build-fuzz/artifacts/coco/crash-...   # replay one finding
#
# Environment: YOLITE_FUZZ_BUILD_DIR (default <repo>/build-fuzz), FUZZ_JOBS (targets run at
# once, default 2), FUZZ_TARGETS (names, default all), YOLITE_BIN (a built `yolite` for the
# synth seeds; default build/yolite, else one is built with cmake), SHARED (default ../shared).
#
# Seeds (SEEDS/<target>/): the BCCD COCO json files, YOLO labels and images; `yolite synth`
# output (COCO json, JPEGs, labels, dataset.yaml); the PyTorch fixtures (.pt, .npz); and small
# files written by gen_seeds.cpp with yolite's own writers. New inputs found by a run are kept in
# BUILD/corpus/<target> (the next run starts from them), findings in BUILD/artifacts/<target>/,
# each target's log in BUILD/logs/<target>.log, and a summary table in BUILD/summary.txt.
# A finding becomes a regression test: copy the input to tests/fuzz/regressions/<target>-<what>
# (tests/io/test_fuzz_regressions.cpp feeds every file there through its parser).
set -euo pipefail
trap 'echo "fuzz: run.sh failed at line $LINENO" >&2' ERR
SECS="${1:?usage: run.sh SECONDS}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="${YOLITE_FUZZ_BUILD_DIR:-$ROOT/build-fuzz}"
SHARED="${SHARED:-$(cd "$ROOT/.." && pwd)/shared}"
JOBS="${FUZZ_JOBS:-2}"
ALL="coco yolo_txt yaml pt pickle zip inflate npy safetensors checkpoint image"
TARGETS="${FUZZ_TARGETS:-$ALL}"

# ---- packages (Debian; installed when missing and we are root) --------------------------------
need=()
for pkg in clang-14 libclang-rt-14-dev libomp-14-dev libeigen3-dev libstb-dev nlohmann-json3-dev; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then echo "run.sh: missing packages: ${need[*]} (run as root to install)" >&2; exit 1; fi
  echo "fuzz: installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
CXX=clang++-14
mkdir -p "$BUILD/logs"

# ---- build (a target is rebuilt when its source, tests/fuzz or include/yolite changed) -------
FLAGS=(-std=c++20 -O1 -g -fno-omit-frame-pointer -fopenmp -Wall -Wextra -Werror
       -I"$ROOT/include" -I/usr/include/eigen3 -I/usr/include/stb)
SAN=(-fsanitize=address,undefined -fno-sanitize-recover=all)
build_one() {  # name source extra-flags...
  local out="$BUILD/$1" src="$2"; shift 2
  if [ -x "$out" ] && [ -z "$(find "$ROOT/include/yolite" "$ROOT/tests/fuzz" -name "*.[ch]pp" -newer "$out" | head -n 1)" ]; then
    return 0
  fi
  echo "fuzz: building $(basename "$out")"
  nice -n 5 "$CXX" "${FLAGS[@]}" "$@" "$src" -o "$out.tmp" -lstb && mv "$out.tmp" "$out"
}
jobs_list=()
for t in $TARGETS; do
  [ -f "$ROOT/tests/fuzz/fuzz_$t.cpp" ] || { echo "run.sh: no target '$t' (known: $ALL)" >&2; exit 1; }
  jobs_list+=("$t")
done
# $JOBS compilers at a time; each failure leaves its log in BUILD/logs/build_<name>.log
pids=()
build_bg() {
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
  build_one "$@" > "$BUILD/logs/build_$1.log" 2>&1 &
  pids+=($!)
}
for t in "${jobs_list[@]}"; do
  build_bg "fuzz_$t" "$ROOT/tests/fuzz/fuzz_$t.cpp" "${SAN[@]}" -fsanitize=fuzzer
done
build_bg gen_seeds "$ROOT/tests/fuzz/gen_seeds.cpp" "${SAN[@]}"
build_fail=0
for p in "${pids[@]}"; do wait "$p" || build_fail=1; done
if [ "$build_fail" != 0 ]; then
  cat "$BUILD"/logs/build_*.log | grep -v '^fuzz: building' | head -n 60 >&2
  echo "fuzz: build failed" >&2; exit 1
fi

# ---- seed corpus -------------------------------------------------------------------------------
copy_first() {  # N DEST FILES... : copies the first N files (no pipes: pipefail + SIGPIPE)
  local n="$1" dest="$2" i=0; shift 2
  for f in "$@"; do [ "$i" -lt "$n" ] || break; [ -f "$f" ] && cp "$f" "$dest/" && i=$((i + 1)); done
  return 0
}
SEEDS="$BUILD/seeds"
rm -rf "$SEEDS"; mkdir -p "$SEEDS"
"$BUILD/gen_seeds" "$SEEDS" "$SHARED" "$ROOT"
for t in $ALL; do mkdir -p "$SEEDS/$t"; done
BCCD="$SHARED/datasets/bccd"
cp "$BCCD"/annotations/instances_{val,test}.json "$SEEDS/coco/"
find "$SHARED/datasets" -name '*.json' -size -200k -exec cp {} "$SEEDS/coco/" \; 2>/dev/null || true
copy_first 4 "$SEEDS/image" "$BCCD"/images/*.jpg
find "$SHARED/datasets" -name 'data.yaml' -exec cp {} "$SEEDS/yaml/" \; 2>/dev/null || true
cp "$SHARED"/fixtures/yolov5n_nc5_seed0.pt "$SEEDS/pt/"
cp "$SHARED"/fixtures/yolov5n_nc5_seed0_io.npz "$SEEDS/zip/"
# `yolite synth` output: COCO json, JPEGs, YOLO labels, a dataset yaml
Y="${YOLITE_BIN:-$ROOT/build/yolite}"
if [ ! -x "$Y" ]; then
  echo "fuzz: building the yolite program for the synth seeds"
  cmake -S "$ROOT" -B "$BUILD/cli" -DCMAKE_BUILD_TYPE=Release -DYOLITE_BUILD_TESTS=OFF \
    -DYOLITE_BUILD_EXAMPLES=OFF -DYOLITE_BUILD_BENCHMARKS=OFF > "$BUILD/cli.configure.log" 2>&1
  nice -n 5 cmake --build "$BUILD/cli" --target yolite_cli -j 2 > "$BUILD/cli.build.log" 2>&1
  Y="$BUILD/yolite"; cp "$BUILD/cli/yolite" "$Y"
fi
SY="$BUILD/synth"; rm -rf "$SY"
"$Y" synth --out "$SY/bottles" --per-class 1 --sizes 96 --seed 5 --no-test-image --threads 1 > /dev/null 2>&1
"$Y" coco2yolo --coco "$SY/bottles/coco_instances.json" --images "$SY/bottles/images_raw" --out "$SY/labels" > /dev/null
"$Y" split --images "$SY/bottles/images_raw" --labels "$SY/labels" --out "$SY/data" --ratios 0.6,0.2,0.2 --seed 1 > /dev/null
cp "$SY/bottles/coco_instances.json" "$SEEDS/coco/synth.json"
copy_first 3 "$SEEDS/image" "$SY"/bottles/images_raw/*.jpg
i=0; for f in "$SY"/labels/*.txt; do cp "$f" "$SEEDS/yolo_txt/synth_$((i++)).txt"; done
cp "$SY/data/dataset.yaml" "$SEEDS/yaml/synth_dataset.yaml"
# BCCD's val annotations as YOLO label files
"$Y" coco2yolo --coco "$BCCD/annotations/instances_val.json" --images "$BCCD/images" --out "$SY/bccd_labels" > /dev/null
copy_first 20 "$SEEDS/yolo_txt" "$SY"/bccd_labels/*.txt
cp "$SEEDS"/pickle/*.pkl "$SEEDS/pt/" 2>/dev/null || true

# ---- run ---------------------------------------------------------------------------------------
# ASan's leak checker is on; UBSan reports abort; inputs are capped at 1 MB except the .pt target
# (a real checkpoint is 3.7 MB). -timeout: one input taking longer than 25 s counts as a finding.
run_one() {
  local t="$1" secs="$2" maxlen=1048576
  [ "$t" = pt ] && maxlen=4194304
  mkdir -p "$BUILD/corpus/$t" "$BUILD/artifacts/$t"
  local rc=0
  (cd "$BUILD" && ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0 \
     UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
     nice -n 5 ./fuzz_"$t" -max_total_time="$secs" -timeout=25 -rss_limit_mb=2560 -max_len="$maxlen" \
     -print_final_stats=1 -artifact_prefix="$BUILD/artifacts/$t/" \
     "$BUILD/corpus/$t" "$BUILD/seeds/$t" > "$BUILD/logs/$t.log" 2>&1) || rc=$?
  local execs cov
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$BUILD/logs/$t.log" | grep -o '[0-9]*$' || echo ?)
  cov=$(grep -o 'cov: [0-9]*' "$BUILD/logs/$t.log" | tail -n 1 | grep -o '[0-9]*' || echo ?)
  if [ "$rc" = 0 ]; then
    printf '%-12s ok     %ss  %10s runs  cov %s\n' "$t" "$secs" "$execs" "$cov"
  else
    printf '%-12s FAILED %ss  rc %s: %s (log: %s)\n' "$t" "$secs" "$rc" \
      "$(grep -m1 -E 'ERROR|SUMMARY|terminate|deadly' "$BUILD/logs/$t.log" | cut -c1-100)" "$BUILD/logs/$t.log"
  fi
}
export -f run_one
echo "fuzz: running ${jobs_list[*]} for ${SECS}s each, $JOBS at a time"
printf '%s\n' "${jobs_list[@]}" | xargs -P "$JOBS" -I{} bash -c "$(declare -f run_one); BUILD='$BUILD' run_one {} '$SECS'" \
  | tee "$BUILD/summary.txt"
if grep -q FAILED "$BUILD/summary.txt"; then echo "fuzz: FAILURES (see above)"; exit 1; fi
echo "fuzz: all targets clean"
