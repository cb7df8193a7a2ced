// train::strip_checkpoint (YOLOv5's strip_optimizer, `yolite strip`): a training checkpoint
// keeps only its EMA weights, renamed to the model's names; optimizer state and pending
// gradients go; the result still loads with model::read_weights and is refused by --resume.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include <yolite/train/weights.hpp>

#include "../test_util.hpp"

using namespace yolite;

TEST_SUITE("train") {
  TEST_CASE("strip_checkpoint keeps the EMA as the model and drops the training state") {
    auto dir = testing::fresh_dir("strip");
    const std::string in = (dir / "last.pt").string(), out = (dir / "small.pt").string();
    io::Checkpoint ck;
    Tensor<float> w({2, 2}), e({2, 2}), m({2, 2});
    for (int i = 0; i < 4; ++i) {
      w[i] = float(i);
      e[i] = float(10 + i);
      m[i] = float(100 + i);
    }
    ck.add("model.0.conv.weight", w);
    ck.add("ema.model.0.conv.weight", e);
    ck.add("optim.momentum.model.0.conv.weight", m);
    ck.add("grad.model.0.conv.weight", m);
    ck.add_int("model.0.bn.num_batches_tracked", 7);
    ck.meta["resumable"] = true;
    ck.meta["last_opt_step"] = 12;
    ck.meta["nc"] = 1;
    io::save_checkpoint(in, ck);

    CHECK(train::strip_checkpoint(in, out) == 1);
    io::Checkpoint s = io::load_checkpoint(out);
    REQUIRE(s.tensors.size() == 1);
    CHECK(s.tensors[0].first == "model.0.conv.weight");
    CHECK(s.tensors[0].second[3] == 13.0f);  // the EMA's values
    REQUIRE(s.int_tensors.size() == 1);
    CHECK(s.int_tensors[0].second[0] == 7);
    CHECK(s.meta["resumable"] == false);
    CHECK_FALSE(s.meta.contains("last_opt_step"));
    CHECK(std::filesystem::file_size(out) < std::filesystem::file_size(in));

    // in place, and a checkpoint without an EMA keeps its model tensors
    io::Checkpoint plain;
    plain.add("model.0.conv.weight", w);
    io::save_checkpoint(in, plain);
    CHECK(train::strip_checkpoint(in, in) == 1);
    CHECK(io::load_checkpoint(in).tensors[0].second[1] == 1.0f);

    CHECK(testing::contains(testing::error_of([&] { train::strip_checkpoint((dir / "nope.pt").string(), out); }),
                         "nope.pt: no such checkpoint"));
  }
}
