// core/cpu.hpp: the features a build was compiled for against what a CPU reports.
#include <doctest/doctest.h>

#include <cstring>
#include <string>

#include <yolite/core/cpu.hpp>

using namespace yolite;

namespace {
bool deny_all(const char*) { return false; }
bool allow_all(const char*) { return true; }
bool deny_avx512(const char* name) { return std::strncmp(name, "avx512", 6) != 0; }
}  // namespace

TEST_SUITE("core") {
  TEST_CASE("cpu: the machine that built the tests has every feature they were compiled for") {
    char buf[160];
    cpu::missing(buf, sizeof buf);
    CHECK(std::string(buf).empty());
    MESSAGE("compiled for: " << cpu::simd_level());
  }

  TEST_CASE("cpu: a CPU without the compiled features is named feature by feature") {
    char buf[160];
    cpu::missing_with(buf, sizeof buf, &allow_all);
    CHECK(std::string(buf).empty());
    cpu::missing_with(buf, sizeof buf, &deny_all);
    const std::string all(buf);
#if defined(__AVX2__)
    CHECK(all.find("avx2") != std::string::npos);
#endif
#if defined(__AVX512F__)
    CHECK(all.find("avx512f") != std::string::npos);
    cpu::missing_with(buf, sizeof buf, &deny_avx512);
    CHECK(std::string(buf).rfind("avx512f", 0) == 0);  // only AVX-512 names, avx2 not among them
    CHECK(std::string(buf).find("avx2") == std::string::npos);
#endif
#if !defined(__SSE4_2__)
    CHECK(all.empty());  // a baseline build needs nothing beyond x86-64
#endif
    char msg[512];
    cpu::format_message(msg, sizeof msg, "yolite", "avx512f avx512bw");
    const std::string m(msg);
    CHECK(m.rfind("yolite: ", 0) == 0);
    CHECK(m.find("instructions this CPU lacks (avx512f avx512bw)") != std::string::npos);
    CHECK(m.find("-DYOLITE_ARCH=x86-64-v3") != std::string::npos);
    // a buffer too small for every name keeps whole names only
    char tiny[12];
    cpu::missing_with(tiny, sizeof tiny, &deny_all);
    CHECK(std::strlen(tiny) < sizeof tiny);
  }
}
