// dist/comm.hpp and dist/threads.hpp: communicators, work shares, the byte messages ranks send,
// and the collectives over ranks that are threads.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <yolite/dist/comm.hpp>
#include <yolite/dist/threads.hpp>

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

  TEST_CASE("dist: ranks as threads -- allgather, broadcast, alltoall, and sums in rank order") {
    for (int ranks : {2, 3, 5}) {
      CAPTURE(ranks);
      dist::ThreadGroup group(ranks);
      const size_t n = 1001;  // not a multiple of the rank count
      std::vector<std::vector<float>> in(static_cast<size_t>(ranks)), out(static_cast<size_t>(ranks));
      for (int r = 0; r < ranks; ++r)
        for (size_t i = 0; i < n; ++i) in[size_t(r)].push_back(float(std::sin(double(i) * 0.37 + r)) * 1e3f + 1e-3f * float(r));
      std::vector<std::string> gathered(static_cast<size_t>(ranks)), cast(static_cast<size_t>(ranks));
      std::vector<std::vector<std::string>> swapped(static_cast<size_t>(ranks));
      std::vector<std::thread> threads;
      for (int r = 0; r < ranks; ++r)
        threads.emplace_back([&, r] {
          dist::ThreadComm c(group, r);
          std::string all;
          for (auto& s : c.allgather(std::to_string(r))) all += s + ",";
          gathered[size_t(r)] = all;
          std::string b = r == 0 ? "from rank 0" : "overwritten";
          c.broadcast(b);
          cast[size_t(r)] = b;
          std::vector<std::string> to;
          for (int q = 0; q < ranks; ++q) to.push_back(std::to_string(r) + ">" + std::to_string(q));
          swapped[size_t(r)] = c.alltoall(to);
          out[size_t(r)] = in[size_t(r)];
          c.allreduce_sum(out[size_t(r)].data(), n);
        });
      for (auto& t : threads) t.join();
      std::vector<float> want(n, 0.f);
      for (int r = 0; r < ranks; ++r)
        for (size_t i = 0; i < n; ++i) want[i] += in[size_t(r)][i];  // rank order
      for (int r = 0; r < ranks; ++r) {
        std::string all;
        for (int q = 0; q < ranks; ++q) all += std::to_string(q) + ",";
        CHECK(gathered[size_t(r)] == all);
        CHECK(cast[size_t(r)] == "from rank 0");
        for (int q = 0; q < ranks; ++q) CHECK(swapped[size_t(r)][size_t(q)] == std::to_string(q) + ">" + std::to_string(r));
        // the same bits on every rank, and those of the sum taken in rank order
        CHECK(std::memcmp(out[size_t(r)].data(), want.data(), n * sizeof(float)) == 0);
      }
    }
  }

  TEST_CASE("dist: a rank that never comes makes the others fail with a message, not hang") {
    dist::ThreadGroup group(2, /*timeout_s=*/0.2);
    dist::ThreadComm c(group, 0);
    CHECK_THROWS_WITH_AS(c.allgather("alone"), doctest::Contains("waited"), Error);
    CHECK_THROWS_AS(dist::ThreadComm(group, 2), Error);
  }
}
