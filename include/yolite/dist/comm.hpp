// dist/comm.hpp -- the processes (ranks) of one job, as the library sees them.
//
//   dist::SelfComm one;                       // one process: rank 0 of 1, every call a no-op
//   dist::MpiComm world;                      // dist/mpi.hpp: the ranks mpirun started
//   o.comm = &world;                          // SynthOptions, ValOptions: share the work
//
// The library never talks to MPI itself: the parts that can share their work (rendering a data
// set, validating) take a Comm* and call these few collectives; dist/mpi.hpp implements them
// over MPI for the program (the `yolite` command links it when Open MPI is installed), and
// SelfComm stands in when there is one process. Every rank must make the same calls in the
// same order.
//
// Sums are reduced in rank order from every rank's values (gathered first), so each rank gets
// the same bits and the result does not depend on the network's reduction tree: this moves
// (ranks - 1) x the buffer to every rank, where a ring all-reduce moves 2 (ranks - 1) / ranks x.
//
// Bytes carries what ranks send each other: plain values and vectors of them, appended and
// read back in the same order (same machine architecture on every rank).
#pragma once
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "../core/error.hpp"

namespace yolite::dist {

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

  // Element-wise sums over the ranks, in place, added in rank order: the same bits everywhere.
  template <class T>
  void allreduce_sum(T* v, size_t n) {
    static_assert(std::is_arithmetic_v<T>);
    if (size() == 1) return;
    std::vector<std::string> all = allgather(std::string(reinterpret_cast<const char*>(v), n * sizeof(T)));
    for (auto& a : all)
      YOLITE_CHECK(a.size() == n * sizeof(T), "allreduce_sum: ranks disagree on the length (", a.size(),
                   " vs ", n * sizeof(T), " bytes)");
    for (size_t i = 0; i < n; ++i) {
      T s{};
      for (auto& a : all) {
        T x;
        std::memcpy(&x, a.data() + i * sizeof(T), sizeof(T));
        s += x;
      }
      v[i] = s;
    }
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

}  // namespace yolite::dist
