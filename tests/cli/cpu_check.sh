#!/usr/bin/env bash
# A binary compiled for a newer instruction set than the CPU it runs on must stop with one clear
# line naming what is missing (exit 1), not die with SIGILL. qemu-user emulates an older CPU:
# an AVX-512 build runs on a Haswell (AVX2, no AVX-512), an AVX2 build on a Nehalem (SSE4.2).
#   cpu_check.sh YOLITE_BINARY TEST_BINARY
set -uo pipefail
Y="$1"
T="$2"
level="$("$Y" --version | sed -n 's/^SIMD: //p')"
echo "build: $level"
case "$level" in
  AVX-512*) cpu=Haswell; expect=avx512f ;;
  AVX2*) cpu=Nehalem; expect=avx2 ;;
  *) echo "this build uses no AVX: nothing a CPU could lack here"; echo "1 passed, 0 failed"; exit 0 ;;
esac
QEMU="$(command -v qemu-x86_64 || true)"
if [ -z "$QEMU" ]; then
  echo "FAIL: qemu-x86_64 not found (Debian package qemu-user; scripts/test.sh installs it)"
  exit 1
fi
pass=0
fail=0
for bin in "$Y" "$T"; do
  out="$("$QEMU" -cpu "$cpu" "$bin" --version 2>&1)"
  rc=$?
  out="$(grep -v '^qemu-x86_64: warning' <<<"$out")"  # TCG's notes on CPUID bits it lacks
  echo "$(basename "$bin") on an emulated $cpu: exit $rc: $out"
  if [ "$rc" = 1 ] && grep -q "this CPU lacks (.*$expect" <<<"$out" && grep -q "Rebuild it on this machine" <<<"$out"; then
    pass=$((pass + 1))
  else
    echo "FAIL: expected exit 1 and a line naming $expect"
    fail=$((fail + 1))
  fi
done
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
