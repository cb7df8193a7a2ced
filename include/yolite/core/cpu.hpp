// core/cpu.hpp -- the instruction sets this build was compiled for, and whether this CPU has them.
//
// yolite's own builds use -march=native by default (YOLITE_NATIVE), and a user's may too: the
// kernels then contain AVX-512 or AVX2 instructions chosen at compile time. Copied to a machine
// without them, such a program would die with SIGILL somewhere in the first convolution. The
// check here turns that into one clear line:
//
//   yolite: this program was compiled for instructions this CPU lacks (avx512f avx512bw), e.g.
//   with -march=native on another machine. Rebuild it on this machine, or configure with
//   -DYOLITE_ARCH=x86-64-v3 (AVX2) or -DYOLITE_ARCH=x86-64 for a portable build.
//
//   yolite::cpu::missing(buf, n)      -> the features compiled for but absent here ("" if none)
//   yolite::cpu::check_or_exit("app") -> prints the line above and exits(1) when any is missing
//   yolite::cpu::simd_level()         -> "AVX-512", "AVX2+FMA", "SSE2" (what the kernels use)
//
// The functions are plain C inside (fixed buffers, stdio) and compiled for the x86-64 baseline
// (gnu::target), so the check itself never executes an instruction the CPU may lack. Programs
// call check_or_exit first thing in main(); the yolite program and the test suites also run it
// from a high-priority constructor, before any other static initialiser.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <cstring>

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define YOLITE_CPU_X86 1
#define YOLITE_CPU_BASELINE [[gnu::target("arch=x86-64")]]
#else
#define YOLITE_CPU_X86 0
#define YOLITE_CPU_BASELINE
#endif

namespace yolite::cpu {

// The SIMD level the kernels were compiled for (what `yolite --version` prints).
inline const char* simd_level() {
#if defined(__AVX512F__) && defined(__AVX512BF16__)
  return "AVX-512 (with BF16)";
#elif defined(__AVX512F__)
  return "AVX-512";
#elif defined(__AVX2__) && defined(__FMA__)
  return "AVX2+FMA";
#elif defined(__AVX__)
  return "AVX";
#elif defined(__SSE2__)
  return "SSE2";
#else
  return "scalar";
#endif
}

namespace detail {
// Appends name to buf (space separated) when the feature was compiled for and is absent.
// `supports` answers for the running CPU; tests pass their own to simulate another machine.
YOLITE_CPU_BASELINE inline void note(char* buf, size_t n, const char* name, bool compiled, bool present) {
  if (!compiled || present || n == 0) return;
  size_t len = std::strlen(buf);
  if (len + std::strlen(name) + 2 > n) return;
  if (len) buf[len++] = ' ';
  std::strcpy(buf + len, name);
}
}  // namespace detail

// Writes the features this translation unit was compiled for that `supports(name)` denies into
// buf (space separated, "" when none). supports is called with GCC's feature names.
using SupportsFn = bool (*)(const char* name);
YOLITE_CPU_BASELINE inline void missing_with(char* buf, size_t n, SupportsFn supports) {
  if (n) buf[0] = 0;
  struct F {
    const char* name;
    bool compiled;
  };
  const F table[] = {
#if defined(__SSE4_2__)
      {"sse4.2", true},
#endif
#if defined(__AVX__)
      {"avx", true},
#endif
#if defined(__AVX2__)
      {"avx2", true},
#endif
#if defined(__FMA__)
      {"fma", true},
#endif
#if defined(__AVX512F__)
      {"avx512f", true},
#endif
#if defined(__AVX512BW__)
      {"avx512bw", true},
#endif
#if defined(__AVX512DQ__)
      {"avx512dq", true},
#endif
#if defined(__AVX512VL__)
      {"avx512vl", true},
#endif
#if defined(__AVX512BF16__)
      {"avx512bf16", true},
#endif
      {"", false}};
  for (const F& f : table) detail::note(buf, n, f.name, f.compiled, !f.compiled || supports(f.name));
}

// The running CPU's answer for one of the names above (GCC's __builtin_cpu_supports).
YOLITE_CPU_BASELINE inline bool supports(const char* name) {
#if YOLITE_CPU_X86
  __builtin_cpu_init();
  // __builtin_cpu_supports wants a literal: one branch per name the table can ask for
  if (!std::strcmp(name, "sse4.2")) return __builtin_cpu_supports("sse4.2");
  if (!std::strcmp(name, "avx")) return __builtin_cpu_supports("avx");
  if (!std::strcmp(name, "avx2")) return __builtin_cpu_supports("avx2");
  if (!std::strcmp(name, "fma")) return __builtin_cpu_supports("fma");
  if (!std::strcmp(name, "avx512f")) return __builtin_cpu_supports("avx512f");
  if (!std::strcmp(name, "avx512bw")) return __builtin_cpu_supports("avx512bw");
  if (!std::strcmp(name, "avx512dq")) return __builtin_cpu_supports("avx512dq");
  if (!std::strcmp(name, "avx512vl")) return __builtin_cpu_supports("avx512vl");
  if (!std::strcmp(name, "avx512bf16")) return __builtin_cpu_supports("avx512bf16");
#endif
  (void)name;
  return true;
}

YOLITE_CPU_BASELINE inline void missing(char* buf, size_t n) {
  missing_with(buf, n, &supports);
}

// The message for a missing set (empty buf when nothing is missing).
YOLITE_CPU_BASELINE inline void format_message(char* out, size_t n, const char* program, const char* absent) {
  std::snprintf(out, n,
                "%s: this program was compiled for instructions this CPU lacks (%s), e.g. with "
                "-march=native on another machine. Rebuild it on this machine, or configure with "
                "-DYOLITE_ARCH=x86-64-v3 (AVX2) or -DYOLITE_ARCH=x86-64 for a portable build.\n",
                program, absent);
}

// Prints the message to stderr and exits with status 1 when the CPU lacks a compiled feature.
YOLITE_CPU_BASELINE inline void check_or_exit(const char* program) {
  char absent[160];
  missing(absent, sizeof absent);
  if (!absent[0]) return;
  char msg[512];
  format_message(msg, sizeof msg, program, absent);
  std::fputs(msg, stderr);
  std::exit(1);
}

}  // namespace yolite::cpu
