// train::strip_checkpoint (YOLOv5's strip_optimizer, `yolite strip`): a training checkpoint
// keeps only its EMA weights, renamed to the model's names; optimizer state and pending
// gradients go; the result still loads with model::read_weights and is refused by --resume.
// train::average_checkpoints (`yolite average`, a model soup): the mean of those weights.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
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

TEST_SUITE("train") {
  TEST_CASE("average_checkpoints: the mean of the inference weights; other models refused by name") {
    auto dir = testing::fresh_dir("average");
    auto path = [&](const char* n) { return (dir / n).string(); };
    auto bytes = [](const std::string& p) {
      std::ifstream f(p, std::ios::binary);
      return std::string(std::istreambuf_iterator<char>(f), {});
    };
    auto make = [&](const std::string& p, float base, bool with_ema, int nc = 2) {
      io::Checkpoint ck;
      Tensor<float> w({3}), b({2});
      for (int i = 0; i < 3; ++i) w[i] = base + float(i);
      for (int i = 0; i < 2; ++i) b[i] = -base;
      if (with_ema) {
        Tensor<float> junk({3});
        for (int i = 0; i < 3; ++i) junk[i] = 1000.0f;
        ck.add("model.0.conv.weight", junk);  // the raw model: not what is averaged
        ck.add("ema.model.0.conv.weight", w);
        ck.add("ema.model.24.m.0.bias", b);
        ck.add("optim.momentum.model.0.conv.weight", junk);
        ck.meta["resumable"] = true;
        ck.meta["last_opt_step"] = 5;
      } else {
        ck.add("model.0.conv.weight", w);
        ck.add("model.24.m.0.bias", b);
      }
      ck.add_int("model.0.bn.num_batches_tracked", int64_t(base));
      ck.meta["nc"] = nc;
      ck.meta["names"] = nc == 2 ? nlohmann::json{"a", "b"} : nlohmann::json{"a", "b", "c"};
      io::save_checkpoint(p, ck);
    };
    make(path("a.pt"), 1.0f, true);
    make(path("b.pt"), 2.0f, false);
    make(path("c.pt"), 6.0f, true);
    CHECK(train::average_checkpoints({path("a.pt"), path("b.pt"), path("c.pt")}, path("soup.pt")) == 2);
    io::Checkpoint s = io::load_checkpoint(path("soup.pt"));
    REQUIRE(s.tensors.size() == 2);
    const Tensor<float>& w = s.get("model.0.conv.weight");
    for (int i = 0; i < 3; ++i) CHECK(w[i] == doctest::Approx(3.0 + i));  // (1 + 2 + 6) / 3 + i
    CHECK(s.get("model.24.m.0.bias")[1] == doctest::Approx(-3.0));
    CHECK(s.get_int("model.0.bn.num_batches_tracked") == 1);  // from the first
    CHECK(s.meta["resumable"] == false);
    CHECK_FALSE(s.meta.contains("last_opt_step"));
    CHECK(s.meta["averaged_from"].size() == 3);
    CHECK(s.meta["averaged_from"][1] == path("b.pt"));  // the paths as given
    // the same inputs give the same bytes; the output may replace an input
    CHECK(train::average_checkpoints({path("a.pt"), path("b.pt"), path("c.pt")}, path("soup2.pt")) == 2);
    CHECK(bytes(path("soup.pt")) == bytes(path("soup2.pt")));
    CHECK(train::average_checkpoints({path("soup2.pt"), path("b.pt")}, path("soup2.pt")) == 2);
    CHECK(io::load_checkpoint(path("soup2.pt")).get("model.0.conv.weight")[0] == doctest::Approx(2.5));

    // refused: one input, missing files, other shapes, other tensors, other classes
    CHECK(testing::contains(testing::error_of([&] { train::average_checkpoints({path("a.pt")}, path("x.pt")); }),
                            "two or more checkpoints are needed"));
    CHECK(testing::contains(
        testing::error_of([&] { train::average_checkpoints({path("a.pt"), path("nope.pt")}, path("x.pt")); }),
        "nope.pt: no such checkpoint"));
    {
      io::Checkpoint other;
      other.add("model.0.conv.weight", Tensor<float>({4}));
      other.add("model.24.m.0.bias", Tensor<float>({2}));
      other.meta["nc"] = 2;
      io::save_checkpoint(path("shape.pt"), other);
      io::Checkpoint renamed;
      renamed.add("model.0.conv.weight", Tensor<float>({3}));
      renamed.add("model.23.m.0.bias", Tensor<float>({2}));
      io::save_checkpoint(path("names.pt"), renamed);
    }
    CHECK(testing::contains(
        testing::error_of([&] { train::average_checkpoints({path("a.pt"), path("shape.pt")}, path("x.pt")); }),
        "shape.pt: tensor 'model.0.conv.weight' has shape"));
    CHECK(testing::contains(
        testing::error_of([&] { train::average_checkpoints({path("a.pt"), path("names.pt")}, path("x.pt")); }),
        "names.pt: no tensor 'model.24.m.0.bias'"));
    make(path("nc3.pt"), 1.0f, true, 3);
    CHECK(testing::contains(
        testing::error_of([&] { train::average_checkpoints({path("a.pt"), path("nc3.pt")}, path("x.pt")); }),
        "nc3.pt: its 'nc' differs"));
    CHECK_FALSE(std::filesystem::exists(path("x.pt")));
  }
}
