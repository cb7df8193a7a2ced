// dist/mpi.hpp -- dist::Comm over MPI: the ranks that mpirun, mpiexec or srun started.
//
//   if (dist::launched_by_mpi()) {             // dist/comm.hpp
//     dist::MpiComm world;                    // MPI_Init_thread once; MPI_Finalize at its end
//     options.comm = &world;                  // rank(), size(), the collectives of dist::Comm
//   }
//
// Needs <mpi.h> and the MPI library (CMake: link yolite::mpi, made when Open MPI or another
// MPI is installed); nothing else in yolite includes this file. One MpiComm per process.
//
// allreduce_sum (dist/comm.hpp) runs over alltoallv (MPI_Ialltoallv: each rank's part of the
// buffer only to the rank that sums it) and allgatherv (MPI_Iallgatherv) on the caller's buffers,
// not MPI_Allreduce, so that the sums are added in rank order and are the same bits on every
// rank; it moves the same bytes, in about twice MPI_Allreduce's time on one machine.
//
// No hang on a dead rank: every collective is non-blocking underneath and polled; a rank that
// waits longer than the timeout (YOLITE_MPI_TIMEOUT seconds, default 600) prints which
// collective it was in and aborts the whole job (MPI_Abort), as does abort_job(). A rank that
// exits without finishing makes the launcher stop the others (Open MPI, Slurm).
#pragma once
#ifndef OMPI_SKIP_MPICXX
#define OMPI_SKIP_MPICXX 1
#endif
#ifndef MPICH_SKIP_MPICXX
#define MPICH_SKIP_MPICXX 1
#endif
#include <mpi.h>

#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "../core/error.hpp"
#include "comm.hpp"

namespace yolite::dist {

class MpiComm final : public Comm {
 public:
  // timeout_s <= 0: YOLITE_MPI_TIMEOUT from the environment, else 600 s.
  explicit MpiComm(double timeout_s = 0) : timeout_s_(timeout_s > 0 ? timeout_s : env_timeout()) {
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited) {
      int provided = 0;
      if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        fail("MPI_Init_thread failed: is this process started by mpirun (or srun) with a working MPI?");
      owns_init_ = true;
    }
    MPI_Comm_dup(MPI_COMM_WORLD, &comm_);
    MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
  }
  MpiComm(const MpiComm&) = delete;
  MpiComm& operator=(const MpiComm&) = delete;
  ~MpiComm() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (finalized) return;
    MPI_Comm_free(&comm_);
    if (owns_init_) MPI_Finalize();
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  double timeout() const { return timeout_s_; }

  std::vector<std::string> allgather(const std::string& mine) override {
    uint64_t n = mine.size();
    std::vector<uint64_t> sizes(size_t(size_), 0);
    MPI_Request req;
    check(MPI_Iallgather(&n, 1, MPI_UINT64_T, sizes.data(), 1, MPI_UINT64_T, comm_, &req), "allgather");
    wait(req, "allgather (sizes)");
    std::vector<int> counts(static_cast<size_t>(size_)), displs(static_cast<size_t>(size_));
    uint64_t total = 0;
    for (int r = 0; r < size_; ++r) {
      YOLITE_CHECK(total + sizes[size_t(r)] <= uint64_t(INT_MAX), "MPI allgather: more than 2 GiB at once");
      counts[size_t(r)] = int(sizes[size_t(r)]), displs[size_t(r)] = int(total);
      total += sizes[size_t(r)];
    }
    std::string all(size_t(total), '\0');
    check(MPI_Iallgatherv(mine.data(), int(n), MPI_BYTE, all.data(), counts.data(), displs.data(), MPI_BYTE,
                          comm_, &req), "allgather");
    wait(req, "allgather");
    std::vector<std::string> out;
    for (int r = 0; r < size_; ++r) out.push_back(all.substr(size_t(displs[size_t(r)]), size_t(counts[size_t(r)])));
    return out;
  }

  void alltoallv(const char* send, const std::vector<size_t>& send_n, const std::vector<size_t>& send_at, char* recv,
                 const std::vector<size_t>& recv_n, const std::vector<size_t>& recv_at) override {
    std::vector<int> sc = ints(send_n), sd = ints(send_at), rc = ints(recv_n), rd = ints(recv_at);
    MPI_Request req;
    check(MPI_Ialltoallv(send, sc.data(), sd.data(), MPI_BYTE, recv, rc.data(), rd.data(), MPI_BYTE, comm_, &req),
          "alltoallv");
    wait(req, "alltoallv");
  }
  void allgatherv(const char* mine, char* all, const std::vector<size_t>& n, const std::vector<size_t>& at) override {
    std::vector<int> c = ints(n), d = ints(at);
    MPI_Request req;
    check(MPI_Iallgatherv(mine, c[size_t(rank_)], MPI_BYTE, all, c.data(), d.data(), MPI_BYTE, comm_, &req),
          "allgatherv");
    wait(req, "allgatherv");
  }

  void broadcast(std::string& bytes) override {
    uint64_t n = bytes.size();
    MPI_Request req;
    check(MPI_Ibcast(&n, 1, MPI_UINT64_T, 0, comm_, &req), "broadcast");
    wait(req, "broadcast (size)");
    YOLITE_CHECK(n <= uint64_t(INT_MAX), "MPI broadcast: more than 2 GiB at once");
    bytes.resize(size_t(n));
    check(MPI_Ibcast(bytes.data(), int(n), MPI_BYTE, 0, comm_, &req), "broadcast");
    wait(req, "broadcast");
  }

  // Prints `message` and this rank's number, and stops every rank of the job.
  [[noreturn]] void abort_job(const std::string& message, int code = 1) const {
    std::fprintf(stderr, "%s (rank %d of %d)\n", message.c_str(), rank_, size_);
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, code);
    std::_Exit(code);
  }

 private:
  static double env_timeout() {
    const char* v = std::getenv("YOLITE_MPI_TIMEOUT");
    double t = v ? std::atof(v) : 0;
    return t > 0 ? t : 600;
  }
  static std::vector<int> ints(const std::vector<size_t>& v) {
    std::vector<int> out;
    for (size_t x : v) {
      YOLITE_CHECK(x <= size_t(INT_MAX), "MPI: more than 2 GiB at once");
      out.push_back(int(x));
    }
    return out;
  }
  void check(int rc, const char* what) const {
    if (rc == MPI_SUCCESS) return;
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    abort_job(str("yolite: MPI ", what, " failed: ", std::string(msg, size_t(len))));
  }
  // Polls until the request completes; past the timeout the job is aborted. A large message
  // moves only while MPI_Test is called (no progress thread), so the first 50 ms poll without
  // sleeping (yielding the core to whoever needs it); a longer wait is another rank still
  // computing, and is polled every 200 us.
  void wait(MPI_Request& req, const char* what) const {
    const auto t0 = std::chrono::steady_clock::now();
    for (;;) {
      int done = 0;
      check(MPI_Test(&req, &done, MPI_STATUS_IGNORE), what);
      if (done) return;
      const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (waited < 0.05)
        std::this_thread::yield();
      else
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      if (waited > timeout_s_)
        abort_job(str("yolite: no answer from the other ranks for ", timeout_s_, " s in ", what,
                      " (a rank died or hangs; YOLITE_MPI_TIMEOUT sets the limit)"), 3);
    }
  }

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1;
  bool owns_init_ = false;
  double timeout_s_ = 600;
};

}  // namespace yolite::dist
