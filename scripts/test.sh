#!/usr/bin/env bash
# scripts/test.sh -- README command 2: set up, build everything with warnings as errors, run
# every test (doctest suites registered with CTest, the find_package consumer test and the
# tutorial's CLI commands). Where nvcc is installed, the CUDA kernels and their tests are
# compiled too (-DYOLITE_CUDA=ON, warnings as errors); without a GPU they report "skipped".
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${YOLITE_BUILD_DIR:-$ROOT/build}"
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
echo "== test suites"
cd "$BUILD"
ctest --output-on-failure -j 2 --timeout 900
