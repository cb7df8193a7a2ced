// core/error.hpp -- the one exception type of yolite and the helpers that build its messages.
//
// Every failure a user can cause (bad file, wrong shape, bad flag) throws yolite::Error with a
// message that names the thing (file, tensor, flag), the position when there is one, and what
// was expected. Programmer errors inside the library use the same type: nothing aborts.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace yolite {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Concatenates its arguments with operator<< : str("got ", n, " boxes") -> "got 3 boxes".
template <class... Args>
std::string str(Args&&... args) {
  std::ostringstream os;
  (os << ... << std::forward<Args>(args));
  return os.str();
}

// Throws yolite::Error(str(args...)) -- use for every user-facing failure.
template <class... Args>
[[noreturn]] void fail(Args&&... args) {
  throw Error(str(std::forward<Args>(args)...));
}

}  // namespace yolite

// YOLITE_CHECK(cond, parts...) throws yolite::Error built from parts when cond is false.
#define YOLITE_CHECK(cond, ...)                    \
  do {                                             \
    if (!(cond)) ::yolite::fail(__VA_ARGS__);      \
  } while (0)
