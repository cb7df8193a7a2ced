// dist/threads.hpp -- ranks as threads of one process: a dist::Comm without MPI.
//
//   dist::ThreadGroup group(2);               // the shared meeting point of 2 ranks
//   std::thread t1([&] { dist::ThreadComm c(group, 1); train_part(c); });
//   dist::ThreadComm c0(group, 0);
//   train_part(c0);                           // every rank makes the same calls, in order
//   t1.join();
//
// For tests of the code that shares work between ranks (sync-BN, the training loss, the
// gradient sums), and for reading how a collective works: every collective is one meeting of
// all threads, where the last to arrive publishes what everyone brought. A thread that waits
// longer than the timeout throws yolite::Error (a rank that died does not hang the others
// forever).
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "comm.hpp"

namespace yolite::dist {

class ThreadGroup {
 public:
  explicit ThreadGroup(int ranks, double timeout_s = 60) : n_(ranks), timeout_s_(timeout_s), slots_(size_t(ranks)) {
    YOLITE_CHECK(ranks >= 1, "ThreadGroup: ranks must be >= 1, got ", ranks);
  }
  int size() const { return n_; }

  // Rank `rank` brings `mine`; returns what every rank brought, in rank order.
  std::vector<std::string> meet(int rank, std::string mine) {
    std::unique_lock<std::mutex> lk(mu_);
    slots_[size_t(rank)] = std::move(mine);
    if (++arrived_ == n_) {
      result_ = std::move(slots_);
      slots_.assign(size_t(n_), {});
      arrived_ = 0;
      ++generation_;
      cv_.notify_all();
      return result_;
    }
    const uint64_t g = generation_;
    if (!cv_.wait_for(lk, std::chrono::duration<double>(timeout_s_), [&] { return generation_ != g; }))
      fail("dist::ThreadComm: rank ", rank, " waited ", timeout_s_, " s for the other ranks");
    return result_;  // read before the next round can publish: that round needs this rank
  }

 private:
  int n_;
  double timeout_s_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> slots_, result_;
  int arrived_ = 0;
  uint64_t generation_ = 0;
};

class ThreadComm final : public Comm {
 public:
  ThreadComm(ThreadGroup& group, int rank) : g_(group), rank_(rank) {
    YOLITE_CHECK(rank >= 0 && rank < group.size(), "ThreadComm: rank ", rank, " of ", group.size());
  }
  int rank() const override { return rank_; }
  int size() const override { return g_.size(); }
  std::vector<std::string> allgather(const std::string& mine) override { return g_.meet(rank_, mine); }
  void broadcast(std::string& bytes) override {
    std::vector<std::string> all = g_.meet(rank_, rank_ == 0 ? bytes : std::string());
    bytes = std::move(all[0]);
  }

 private:
  ThreadGroup& g_;
  int rank_;
};

}  // namespace yolite::dist
