#!/usr/bin/env bash
# scripts/setup.sh -- install what is missing (Debian 12, as root), configure and build.
# Called by scripts/main.sh and scripts/test.sh; usable alone: bash scripts/setup.sh [BUILD_DIR] [cmake args...]
# YOLITE_TARGETS="yolite_cli ..." builds only those targets (main.sh builds just the program);
# unset, everything configured is built (tests, benchmarks, examples, the program).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${1:-$ROOT/build}"
shift || true

need=()
for pkg in g++ cmake make libeigen3-dev libstb-dev doctest-dev nlohmann-json3-dev libcli11-dev libjpeg62-turbo-dev fonts-dejavu-core ${YOLITE_EXTRA_PACKAGES:-}; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release "$@" > "$BUILD.configure.log" 2>&1 \
  || { cat "$BUILD.configure.log"; exit 1; }
if [ -n "${YOLITE_TARGETS:-}" ]; then
  # shellcheck disable=SC2086
  cmake --build "$BUILD" -j "$(nproc)" --target ${YOLITE_TARGETS}
else
  cmake --build "$BUILD" -j "$(nproc)"
fi
