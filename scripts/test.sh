#!/usr/bin/env bash
# scripts/test.sh -- README command 2: set up, build everything with warnings as errors, run
# every test (doctest suites registered with CTest, plus the find_package consumer test).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${YOLITE_BUILD_DIR:-$ROOT/build}"
bash "$ROOT/scripts/setup.sh" "$BUILD" -DYOLITE_WERROR=ON "$@"
cd "$BUILD"
OMP_NUM_THREADS=2 ctest --output-on-failure -j 2 --timeout 600
