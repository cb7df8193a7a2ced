// bench_allreduce -- dist::MpiComm::allreduce_sum (rank-order sums: a reduce-scatter over
// MPI_Ialltoallv and an all-gather over MPI_Iallgatherv) against MPI_Allreduce, the peer, on
// the gradient sizes of data-parallel training: yolov5n and yolov5s with 5 classes.
//
//   mpirun -np 2 build/benchmarks/bench_allreduce [--runs 15]
//
// Prints, per size, the median milliseconds of both (each timed after a barrier, so waiting for
// a slower rank is not counted), the ratio (ours / MPI_Allreduce), the bytes each rank sends
// (2 (N-1)/N times the buffer for both), and checks that every rank got the same bits.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include <yolite/dist/mpi.hpp>

int main(int argc, char** argv) {
  CLI::App app{"dist::MpiComm::allreduce_sum against MPI_Allreduce"};
  int runs = 15;
  app.add_option("--runs", runs, "timed runs per size (median)")->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);
  yolite::dist::MpiComm world;
  using clock = std::chrono::steady_clock;
  auto ms = [](clock::time_point a, clock::time_point b) { return std::chrono::duration<double, std::milli>(b - a).count(); };
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
  };
  struct Case {
    const char* name;
    size_t floats;
  };
  const Case cases[] = {{"yolov5n (5 classes)", 1770682}, {"yolov5s (5 classes)", 7023610}};
  if (world.is_root())
    std::printf("allreduce on %d ranks, median of %d runs (timed after a barrier)\n", world.size(), runs);
  for (const Case& c : cases) {
    std::vector<float> v(c.floats), out(c.floats);
    std::vector<double> ours, peer;
    bool same = true;
    for (int k = 0; k < runs + 1; ++k) {  // the first run of each is a warm-up
      for (size_t i = 0; i < v.size(); ++i) v[i] = float((i * 2654435761u + size_t(world.rank()) * 97) % 1000) * 1e-3f;
      world.allgather("");
      auto t0 = clock::now();
      world.allreduce_sum(v.data(), v.size());
      auto t1 = clock::now();
      // every rank has the same bits: compare a checksum of rank 0's with each rank's
      uint64_t h = 1469598103934665603ull;
      for (float x : v) {
        uint32_t b;
        std::memcpy(&b, &x, 4);
        h = (h ^ b) * 1099511628211ull;
      }
      for (const std::string& s : world.allgather(std::string(reinterpret_cast<const char*>(&h), sizeof h)))
        same = same && std::memcmp(s.data(), &h, sizeof h) == 0;
      world.allgather("");
      auto t2 = clock::now();
      MPI_Allreduce(v.data(), out.data(), int(v.size()), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
      auto t3 = clock::now();
      if (k > 0) ours.push_back(ms(t0, t1)), peer.push_back(ms(t2, t3));
    }
    if (world.is_root()) {
      const double mb = double(c.floats) * 4 / 1e6, a = median(ours), b = median(peer);
      std::printf("%-20s %6.2f MB: allreduce_sum %7.2f ms, MPI_Allreduce %7.2f ms, ratio %.2f; %.2f MB sent per rank; same bits on every rank: %s\n",
                  c.name, mb, a, b, a / b, mb * 2 * (world.size() - 1) / world.size(), same ? "yes" : "NO");
    }
  }
  return 0;
}
