// The one doctest main of the suite; every tests/<folder>/*.cpp links against it.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <yolite/core/cpu.hpp>

// A suite built for AVX-512 on a CPU without it stops with one clear line, not SIGILL.
[[gnu::constructor(101)]] YOLITE_CPU_BASELINE static void yolite_tests_check_cpu() {
  yolite::cpu::check_or_exit("yolite tests");
}
