// tools/yolite/ranks.hpp -- the processes of `mpirun -np N yolite COMMAND`.
//
// ranks() is this program's one MPI communicator when it runs as a rank of an MPI job and was
// built with MPI (YOLITE_HAVE_MPI: CMake's yolite::mpi), otherwise nullptr. MPI is initialised
// on first use and finalised at exit. Commands that share their work across ranks (synth, val, train)
// hand it to the library; main.cpp refuses every other command under more than one rank, and
// turns an error on any rank into a job-wide stop (MPI_Abort) instead of a hang.
#pragma once
#include <memory>
#include <string>

#include <yolite/core/error.hpp>
#include <yolite/dist/comm.hpp>
#ifdef YOLITE_HAVE_MPI
#include <yolite/dist/mpi.hpp>
#endif

namespace yolite::cli {

#ifdef YOLITE_HAVE_MPI
inline dist::MpiComm* ranks() {
  static std::unique_ptr<dist::MpiComm> world =
      dist::launched_by_mpi() ? std::make_unique<dist::MpiComm>() : nullptr;
  return world.get();
}
// Prints the error and stops the whole job when running as one of several ranks.
inline void stop_job_on_error(const std::string& message) {
  if (dist::MpiComm* w = ranks(); w && w->size() > 1) w->abort_job(message, 1);
}
#else
inline dist::Comm* ranks() {
  if (dist::launched_by_mpi())
    fail("this yolite was built without MPI, but an MPI launcher started it: install Open MPI "
         "(libopenmpi-dev) and rebuild, or run it without mpirun");
  return nullptr;
}
inline void stop_job_on_error(const std::string&) {}
#endif

// This process writes the outputs (rank 0, or the only process).
inline bool is_writer() { return !ranks() || ranks()->is_root(); }

}  // namespace yolite::cli
