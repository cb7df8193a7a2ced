// fuzz_pickle: the restricted unpickler alone (io/pickle.hpp), straight from memory, plus the
// repr() of what it built and the pickle->JSON conversion of io/torch_pt.hpp.
#include <yolite/io/pickle.hpp>
#include <yolite/io/torch_pt.hpp>

#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace yolite::io;
  YOLITE_FUZZ_EXPECT_ERRORS({
    pickle::Pickle p = pickle::unpickle(yolite_fuzz::as_text(data, size), "fuzz.pkl");
    if (const pickle::Value* root = p.root()) {
      (void)root->repr();
      (void)detail::pickle_to_json(root);
    }
  });
  return 0;
}
