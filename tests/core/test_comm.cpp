// dist/comm.hpp: the one-process communicator, work shares, and the byte messages ranks send.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include <yolite/dist/comm.hpp>

using namespace yolite;

TEST_SUITE("core") {
  TEST_CASE("dist: shares cover every item once, contiguous, sizes within one") {
    for (int64_t n : {0, 1, 5, 17, 1000})
      for (int size : {1, 2, 3, 8}) {
        int64_t next = 0, lo = n, hi = 0;
        for (int r = 0; r < size; ++r) {
          dist::Range p = dist::share(n, r, size);
          CHECK(p.begin == next);
          next = p.end;
          lo = std::min(lo, p.end - p.begin), hi = std::max(hi, p.end - p.begin);
        }
        CHECK(next == n);
        CHECK(hi - lo <= 1);
      }
  }

  TEST_CASE("dist: Bytes reads back what was put, and refuses a truncated message") {
    dist::Bytes b;
    b.put(int32_t(-7)).put(std::vector<float>{1.5f, -2.f}).put(std::string("rank")).put(3.25);
    dist::Bytes in(b.str());
    CHECK(in.get<int32_t>() == -7);
    CHECK(in.get_vector<float>() == std::vector<float>{1.5f, -2.f});
    CHECK(in.get_string() == "rank");
    CHECK(in.get<double>() == 3.25);
    CHECK(in.done());
    dist::Bytes cut(b.str().substr(0, 10));
    cut.get<int32_t>();
    CHECK_THROWS_AS(cut.get_vector<float>(), Error);
  }

  TEST_CASE("dist: one process is rank 0 of 1; its collectives change nothing") {
    dist::SelfComm one;
    CHECK(one.rank() == 0);
    CHECK(one.size() == 1);
    CHECK(one.is_root());
    std::vector<double> v{1, 2, 3};
    one.allreduce_sum(v.data(), v.size());
    CHECK(v == std::vector<double>{1, 2, 3});
    CHECK(one.allgather("x") == std::vector<std::string>{"x"});
    std::string s = "kept";
    one.broadcast(s);
    CHECK(s == "kept");
    CHECK_NOTHROW(one.check_all(""));
    CHECK_THROWS_WITH_AS(one.check_all("bottles: not found"), "bottles: not found", Error);
  }
}
