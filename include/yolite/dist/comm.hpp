// dist/comm.hpp -- the processes (ranks) of one job, as the library sees them.
//
//   dist::SelfComm one;                       // one process: rank 0 of 1, every call a no-op
//   dist::MpiComm world;                      // dist/mpi.hpp: the ranks mpirun started
//   dist::ThreadGroup g(2);                   // dist/threads.hpp: ranks as threads (tests)
//   o.comm = &world;                          // SynthOptions, ValOptions, TrainOptions
//
// The library never talks to MPI itself: the parts that can share their work (rendering a data
// set, validating, training) take a Comm* and call these few collectives; dist/mpi.hpp
// implements them over MPI for the program (the `yolite` command links it when Open MPI is
// installed), and SelfComm stands in when there is one process. Every rank must make the same
// calls in the same order.
//
// Sums (allreduce_sum) are a reduce-scatter then an all-gather, the two halves of a ring
// all-reduce and the same bytes on the wire: rank r receives part r of every rank's buffer
// (alltoall), adds the parts in rank order, and every rank gathers the summed parts. So each
// rank gets the same bits and the result does not depend on the network's reduction tree
// (MPI_Allreduce promises neither), while each rank sends and receives 2 (ranks - 1) / ranks
// times the buffer.
//
// Bytes carries what ranks send each other: plain values and vectors of them, appended and
// read back in the same order (same machine architecture on every rank).
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "../core/error.hpp"

namespace yolite::dist {

// The [begin, end) part of n items that rank r of `size` works on: contiguous, sizes differing
// by at most one.
struct Range {
  int64_t begin = 0, end = 0;
};
inline Range share(int64_t n, int rank, int size) {
  return {n * rank / size, n * (rank + 1) / size};
}

// Values appended to a byte string and read back in the same order.
class Bytes {
 public:
  Bytes() = default;
  explicit Bytes(std::string data) : buf_(std::move(data)) {}
  template <class T>
  Bytes& put(const T& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    buf_.append(reinterpret_cast<const char*>(&v), sizeof(T));
    return *this;
  }
  template <class T>
  Bytes& put(const std::vector<T>& v) {
    put(uint64_t(v.size()));
    buf_.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
    return *this;
  }
  Bytes& put(const std::string& s) {
    put(uint64_t(s.size()));
    buf_ += s;
    return *this;
  }
  template <class T>
  T get() {
    static_assert(std::is_trivially_copyable_v<T>);
    T v;
    take(&v, sizeof(T));
    return v;
  }
  template <class T>
  std::vector<T> get_vector() {
    std::vector<T> v(size_t(get<uint64_t>()));
    take(v.data(), v.size() * sizeof(T));
    return v;
  }
  std::string get_string() {
    std::string s(size_t(get<uint64_t>()), '\0');
    take(s.data(), s.size());
    return s;
  }
  bool done() const { return pos_ == buf_.size(); }
  const std::string& str() const { return buf_; }

 private:
  void take(void* dst, size_t n) {
    YOLITE_CHECK(n <= buf_.size() - pos_, "dist::Bytes: message truncated (", buf_.size(), " bytes, wanted ",
                 pos_ + n, ")");
    if (n) std::memcpy(dst, buf_.data() + pos_, n);
    pos_ += n;
  }
  std::string buf_;
  size_t pos_ = 0;
};

class Comm {
 public:
  virtual ~Comm() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  bool is_root() const { return rank() == 0; }

  // Every rank's bytes, in rank order, on every rank.
  virtual std::vector<std::string> allgather(const std::string& mine) = 0;
  // Rank 0's bytes on every rank (`bytes` is read on rank 0, written on the others).
  virtual void broadcast(std::string& bytes) = 0;
  // to_each[r] goes to rank r; returns what every rank sent this one, in rank order. Sends
  // everything to everyone (allgather): for small messages; alltoallv below moves large ones.
  virtual std::vector<std::string> alltoall(const std::vector<std::string>& to_each) {
    YOLITE_CHECK(int(to_each.size()) == size(), "alltoall: ", to_each.size(), " parts for ", size(), " ranks");
    Bytes mine;
    for (const std::string& part : to_each) mine.put(part);
    std::vector<std::string> out;
    for (std::string& all : allgather(mine.str())) {
      Bytes from(std::move(all));
      std::string part;
      for (int r = 0; r <= rank(); ++r) part = from.get_string();
      out.push_back(std::move(part));
    }
    return out;
  }

  // The same exchanges on caller-owned buffers whose sizes every rank knows (no size messages,
  // no allocation: what the sums below run on). alltoallv: bytes [send_at[r], send_at[r] +
  // send_n[r]) of `send` go to rank r, and rank r's part for this rank lands at recv_at[r] in
  // `recv`. allgatherv: rank r's n[r] bytes land at at[r] in `all`. The defaults go through the
  // string collectives above; dist/mpi.hpp passes the buffers to MPI directly.
  virtual void alltoallv(const char* send, const std::vector<size_t>& send_n, const std::vector<size_t>& send_at,
                         char* recv, const std::vector<size_t>& recv_n, const std::vector<size_t>& recv_at) {
    std::vector<std::string> parts;
    for (int r = 0; r < size(); ++r) parts.emplace_back(send + send_at[size_t(r)], send_n[size_t(r)]);
    std::vector<std::string> got = alltoall(parts);
    for (int r = 0; r < size(); ++r) {
      YOLITE_CHECK(got[size_t(r)].size() == recv_n[size_t(r)], "alltoallv: rank ", r, " sent ", got[size_t(r)].size(),
                   " bytes, expected ", recv_n[size_t(r)]);
      if (recv_n[size_t(r)]) std::memcpy(recv + recv_at[size_t(r)], got[size_t(r)].data(), recv_n[size_t(r)]);
    }
  }
  virtual void allgatherv(const char* mine, char* all, const std::vector<size_t>& n, const std::vector<size_t>& at) {
    std::vector<std::string> got = allgather(std::string(mine, n[size_t(rank())]));
    for (int r = 0; r < size(); ++r) {
      YOLITE_CHECK(got[size_t(r)].size() == n[size_t(r)], "allgatherv: rank ", r, " sent ", got[size_t(r)].size(),
                   " bytes, expected ", n[size_t(r)]);
      if (n[size_t(r)]) std::memcpy(all + at[size_t(r)], got[size_t(r)].data(), n[size_t(r)]);
    }
  }

  // Every rank's values, concatenated in rank order, on every rank.
  template <class T>
  std::vector<T> allgather_values(const std::vector<T>& mine) {
    static_assert(std::is_trivially_copyable_v<T>);
    std::vector<T> all;
    for (const std::string& part : allgather(std::string(reinterpret_cast<const char*>(mine.data()), mine.size() * sizeof(T)))) {
      YOLITE_CHECK(part.size() % sizeof(T) == 0, "allgather_values: a rank sent ", part.size(), " bytes");
      const size_t at = all.size();
      all.resize(at + part.size() / sizeof(T));
      if (!part.empty()) std::memcpy(all.data() + at, part.data(), part.size());
    }
    return all;
  }

  // Element-wise sums over the ranks, in place, added in rank order: the same bits everywhere.
  // Every rank must pass the same n.
  template <class T>
  void allreduce_sum(T* v, size_t n) {
    static_assert(std::is_arithmetic_v<T>);
    const int ranks = size();
    if (ranks == 1) return;
    const size_t R = size_t(ranks), me = size_t(rank());
    std::vector<size_t> part_n(R), part_at(R), recv_n(R), recv_at(R);
    for (size_t r = 0; r < R; ++r) {
      const Range p = share(int64_t(n), int(r), ranks);
      part_at[r] = size_t(p.begin) * sizeof(T), part_n[r] = size_t(p.end - p.begin) * sizeof(T);
    }
    const size_t m = part_n[me] / sizeof(T);  // this rank sums elements [part_at[me], +m)
    for (size_t r = 0; r < R; ++r) recv_n[r] = m * sizeof(T), recv_at[r] = r * m * sizeof(T);
    // reduce-scatter: part `me` of every rank's buffer, then summed in rank order
    scratch_.resize(std::max(scratch_.size(), (R + 1) * m * sizeof(T)));  // reused: no page faults per call
    char* got = scratch_.data();
    T* sum = reinterpret_cast<T*>(got + R * m * sizeof(T));
    alltoallv(reinterpret_cast<const char*>(v), part_n, part_at, got, recv_n, recv_at);
    std::memcpy(sum, got, m * sizeof(T));
    for (size_t r = 1; r < R; ++r) {
      const T* x = reinterpret_cast<const T*>(got + r * m * sizeof(T));
      for (size_t i = 0; i < m; ++i) sum[i] += x[i];
    }
    // all-gather the summed parts into v
    allgatherv(reinterpret_cast<const char*>(sum), reinterpret_cast<char*>(v), part_n, part_at);
  }

  // Stops every rank when any of them failed: `error` is this rank's message ("" = fine). All
  // ranks throw yolite::Error with the first failed rank's message, or all return.
  void check_all(const std::string& error) {
    if (size() == 1) {
      if (!error.empty()) throw Error(error);
      return;
    }
    for (const std::string& e : allgather(error))
      if (!e.empty()) throw Error(e);
  }

 private:
  std::vector<char> scratch_;  // allreduce_sum's receive and sum buffers, kept
};

// One process: rank 0 of 1.
class SelfComm final : public Comm {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::vector<std::string> allgather(const std::string& mine) override { return {mine}; }
  void broadcast(std::string&) override {}
};

// True when a launcher started this process as one rank of a job (its variables are set):
// Open MPI's mpirun, PMIx or PMI launchers (MPICH's mpiexec, Slurm's srun --mpi=pmix).
inline bool launched_by_mpi() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"})
    if (std::getenv(v)) return true;
  return false;
}

}  // namespace yolite::dist
