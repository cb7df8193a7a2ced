#!/usr/bin/env bash
# scripts/test.sh -- README command 2 (CI runs exactly this through .ci/run): set up, build
# everything with warnings as errors, run every test (doctest suites registered with CTest,
# the find_package consumer test, the tutorial's CLI commands, kill-and-resume training, bad
# inputs through the CLI, exports checked by ONNX Runtime and PyTorch), then build again with AddressSanitizer + UndefinedBehaviorSanitizer
# (-DYOLITE_SANITIZE=address,undefined, -O1, no benchmarks/examples, build-asan/) and run
# suites again there: any sanitizer report fails the run. Where nvcc is installed, the CUDA
# kernels and their tests are compiled too (-DYOLITE_CUDA=ON, warnings as errors); without a GPU
# they report "skipped". Then the kernel suites (ops, data, nn, autograd) are built a second time
# for -march=x86-64-v3 (AVX2, no AVX-512) and run, so the portable code paths are tested on every
# run whatever CPU CI lands on (build-x86-64-v3/; YOLITE_TEST_PORTABLE=0 skips it).
#
#   bash scripts/test.sh                                # Release + the parsers under ASan+UBSan
#   YOLITE_TEST_SANITIZE=full bash scripts/test.sh      # Release + the WHOLE suite under ASan+UBSan
#   YOLITE_TEST_SANITIZE=0 bash scripts/test.sh         # Release only
#   YOLITE_TEST_RELEASE=0 YOLITE_TEST_SANITIZE=full bash scripts/test.sh   # ASan+UBSan only (packages installed)
#   bash scripts/test.sh -DYOLITE_NATIVE=OFF            # extra cmake arguments (both builds)
#
# "parsers" (the default; CI runs it) sanitizes what reads untrusted files: the core, io and
# data suites (every parser, the limits on claimed sizes, the fuzzers' regression inputs).
# "full" sanitizes every suite and the three CLI tests (tutorial commands, kill and resume, bad
# inputs through the whole program): about 4x the compile work and 23 minutes in all on a
# 2-core machine, over the 15 minutes CI's test run is held to -- run it before a release.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${YOLITE_BUILD_DIR:-$ROOT/build}"
SAN="${YOLITE_TEST_SANITIZE:-parsers}"
REL="${YOLITE_TEST_RELEASE:-1}"
case "$SAN" in 0|parsers|full) ;; *) echo "test.sh: YOLITE_TEST_SANITIZE must be 0, parsers or full (got '$SAN')" >&2; exit 2;; esac
T0=$SECONDS

if [ "$REL" != 0 ]; then
  # qemu-user: cli_cpu_check runs the build on an emulated older CPU; python3-torch and
  # python3-onnx: cli_export checks exports with torch.load(weights_only=True) and onnx.checker;
  # chromium: cli_dashboards loads report.html in it; Node.js and npm (Debian's, only where no
  # node is installed): cli_export runs ONNX Runtime, cli_dashboards drives the browser
  # FFmpeg (libraries and programs): yolite detect on video, and cli_video's clips; Open MPI:
  # cli_mpi runs synth and val as 2 ranks
  EXTRA="qemu-user python3-torch python3-onnx chromium ffmpeg pkg-config libavformat-dev libavcodec-dev"
  EXTRA="$EXTRA libswscale-dev libavdevice-dev libopenmpi-dev openmpi-bin"
  command -v node > /dev/null || EXTRA="$EXTRA nodejs npm"
  YOLITE_EXTRA_PACKAGES="$EXTRA ${YOLITE_EXTRA_PACKAGES:-}" \
    bash "$ROOT/scripts/setup.sh" "$BUILD" -DYOLITE_WERROR=ON "$@"
  NVCC="$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)"
  if [ -x "$NVCC" ] && [ "${YOLITE_SKIP_CUDA:-0}" != 1 ]; then
    echo "== CUDA build (nvcc $("$NVCC" --version | tail -n 1))"
    cmake -S "$ROOT" -B "$BUILD-cuda" -DCMAKE_BUILD_TYPE=Release -DYOLITE_CUDA=ON -DYOLITE_WERROR=ON \
      -DYOLITE_BUILD_BENCHMARKS=OFF -DYOLITE_BUILD_EXAMPLES=OFF -DYOLITE_BUILD_TOOLS=OFF \
      -DCMAKE_CUDA_COMPILER="$NVCC" > "$BUILD-cuda.configure.log" 2>&1 || { cat "$BUILD-cuda.configure.log"; exit 1; }
    cmake --build "$BUILD-cuda" --target test_cuda -j "$(nproc)"
    (cd "$BUILD-cuda" && ctest --output-on-failure -R '^cuda$')
  fi
  echo "== test suites ($((SECONDS - T0)) s so far)"
  (cd "$BUILD" && ctest --output-on-failure -j 2 --timeout 900)
fi

if [ "${YOLITE_TEST_PORTABLE:-1}" != 0 ]; then
  V3_BUILD="$BUILD-x86-64-v3"
  echo "== kernel suites built for x86-64-v3 (AVX2, no AVX-512) ($((SECONDS - T0)) s so far)"
  cmake -S "$ROOT" -B "$V3_BUILD" -DCMAKE_BUILD_TYPE=Release -DYOLITE_ARCH=x86-64-v3 -DYOLITE_WERROR=ON \
    -DYOLITE_BUILD_BENCHMARKS=OFF -DYOLITE_BUILD_EXAMPLES=OFF -DYOLITE_BUILD_TOOLS=OFF "$@" \
    > "$V3_BUILD.configure.log" 2>&1 || { cat "$V3_BUILD.configure.log"; exit 1; }
  cmake --build "$V3_BUILD" -j "$(nproc)" --target test_ops test_data test_nn test_autograd
  (cd "$V3_BUILD" && ctest --output-on-failure -j 2 --timeout 900 -R '^(ops|data|nn|autograd)$')
fi

if [ "$SAN" != 0 ]; then
  # Every finding aborts (-fno-sanitize-recover; ASan's default), which fails the test; leaks
  # are reported at exit. The consumer test is left out: it builds its own, unsanitized project.
  ASAN_BUILD="$BUILD-asan"
  if [ "$SAN" = full ]; then TARGETS=(all); TESTS='.*'; else
    TARGETS=(test_core test_io test_data); TESTS='^(core|io|data)$'; fi
  echo "== ASan+UBSan build, $SAN ($((SECONDS - T0)) s so far)"
  cmake -S "$ROOT" -B "$ASAN_BUILD" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE=-O1 \
    -DYOLITE_WERROR=ON -DYOLITE_SANITIZE=address,undefined \
    -DYOLITE_BUILD_BENCHMARKS=OFF -DYOLITE_BUILD_EXAMPLES=OFF "$@" > "$ASAN_BUILD.configure.log" 2>&1 \
    || { cat "$ASAN_BUILD.configure.log"; exit 1; }
  cmake --build "$ASAN_BUILD" -j "$(nproc)" --target "${TARGETS[@]}"
  echo "== test suites under ASan+UBSan, $SAN ($((SECONDS - T0)) s so far)"
  (cd "$ASAN_BUILD" && \
   ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1" \
   UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
   ctest --output-on-failure -j 2 --timeout 900 -R "$TESTS" -E '^consumer_find_package$')
fi
echo "== test.sh: all passed in $((SECONDS - T0)) s"
