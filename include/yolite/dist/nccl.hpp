// dist/nccl.hpp -- the ranks of a job summing buffers that live on their GPUs, with NVIDIA's
// NCCL: one rank per GPU, the backend of data-parallel training on the GPU path.
//
//   dist::MpiComm world;                                  // or any dist::Comm (bootstrap)
//   YOLITE_CUDA_CHECK(cudaSetDevice(local_rank));          // one GPU per rank
//   dist::NcclComm gpus(world);                           // rank 0's ncclUniqueId sent over world
//   gpus.allreduce_sum_device(grads_dev, n, stream);      // in place, summed over the ranks
//
// The host collectives of dist::Comm (allgather, broadcast, alltoall, and so allreduce_sum of
// host buffers) go to the bootstrap communicator, so code written against dist::Comm runs
// unchanged; device buffers go through ncclAllReduce (NCCL's ring or tree: the same bits on
// every rank for a given job, but not necessarily rank-order sums as dist::Comm's host sums).
// No hang on a dead rank: a device sum is polled and, past the timeout (YOLITE_MPI_TIMEOUT
// seconds, default 600) or on NCCL's asynchronous error, the communicator is aborted and
// yolite::Error thrown.
//
// Needs <nccl.h> and libnccl (CMake: link yolite::nccl, made by a -DYOLITE_CUDA=ON build when
// NCCL is installed, as it is with the CUDA toolkit); nothing else in yolite includes this file.
#pragma once
#include <cuda_runtime.h>
#include <nccl.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "../core/cuda/device.hpp"
#include "../core/error.hpp"
#include "comm.hpp"

namespace yolite::dist {

class NcclComm final : public Comm {
 public:
  // Every rank of `host` calls this with its own GPU current (cudaSetDevice). timeout_s <= 0:
  // YOLITE_MPI_TIMEOUT from the environment, else 600 s.
  explicit NcclComm(Comm& host, double timeout_s = 0) : host_(host) {
    const char* v = std::getenv("YOLITE_MPI_TIMEOUT");
    timeout_s_ = timeout_s > 0 ? timeout_s : (v && std::atof(v) > 0 ? std::atof(v) : 600.0);
    ncclUniqueId id;
    std::memset(&id, 0, sizeof id);
    if (host_.is_root()) check(ncclGetUniqueId(&id), "ncclGetUniqueId");
    std::string bytes(reinterpret_cast<const char*>(&id), sizeof id);
    host_.broadcast(bytes);
    YOLITE_CHECK(bytes.size() == sizeof id, "NCCL: rank 0 sent a unique id of ", bytes.size(), " bytes");
    std::memcpy(&id, bytes.data(), sizeof id);
    check(ncclCommInitRank(&comm_, host_.size(), id, host_.rank()), "ncclCommInitRank");
  }
  NcclComm(const NcclComm&) = delete;
  NcclComm& operator=(const NcclComm&) = delete;
  ~NcclComm() override {
    if (comm_) ncclCommDestroy(comm_);
  }

  int rank() const override { return host_.rank(); }
  int size() const override { return host_.size(); }
  std::vector<std::string> allgather(const std::string& mine) override { return host_.allgather(mine); }
  void broadcast(std::string& bytes) override { host_.broadcast(bytes); }
  std::vector<std::string> alltoall(const std::vector<std::string>& to_each) override {
    return host_.alltoall(to_each);
  }
  void alltoallv(const char* send, const std::vector<size_t>& send_n, const std::vector<size_t>& send_at, char* recv,
                 const std::vector<size_t>& recv_n, const std::vector<size_t>& recv_at) override {
    host_.alltoallv(send, send_n, send_at, recv, recv_n, recv_at);
  }
  void allgatherv(const char* mine, char* all, const std::vector<size_t>& n, const std::vector<size_t>& at) override {
    host_.allgatherv(mine, all, n, at);
  }

  // n floats on this rank's GPU, replaced by their sum over the ranks; returns when done.
  void allreduce_sum_device(float* data, size_t n, cudaStream_t stream = nullptr) {
    check(ncclAllReduce(data, data, n, ncclFloat, ncclSum, comm_, stream), "ncclAllReduce");
    wait(stream, "ncclAllReduce");
  }

 private:
  void check(ncclResult_t rc, const char* what) {
    if (rc == ncclSuccess || rc == ncclInProgress) return;
    fail("NCCL: ", what, " failed on rank ", host_.rank(), " of ", host_.size(), ": ",
         ncclGetErrorString(rc));
  }
  void wait(cudaStream_t stream, const char* what) {
    const auto t0 = std::chrono::steady_clock::now();
    for (long spins = 0;; ++spins) {
      const cudaError_t e = cudaStreamQuery(stream);
      if (e == cudaSuccess) return;
      if (e != cudaErrorNotReady) YOLITE_CUDA_CHECK(e);
      ncclResult_t async = ncclSuccess;
      check(ncclCommGetAsyncError(comm_, &async), "ncclCommGetAsyncError");
      const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (async != ncclSuccess && async != ncclInProgress) abort_and_fail(what, ncclGetErrorString(async));
      if (waited > timeout_s_)
        abort_and_fail(what, str("no answer from the other ranks for ", timeout_s_,
                                 " s (a rank died or hangs; YOLITE_MPI_TIMEOUT sets the limit)"));
      if (spins > 1000) std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }
  [[noreturn]] void abort_and_fail(const char* what, const std::string& why) {
    ncclCommAbort(comm_);
    comm_ = nullptr;
    fail("NCCL: ", what, " on rank ", host_.rank(), " of ", host_.size(), ": ", why);
  }

  Comm& host_;
  ncclComm_t comm_ = nullptr;
  double timeout_s_ = 600;
};

}  // namespace yolite::dist
