#include <doctest/doctest.h>

#include <yolite/train/hyp.hpp>
#include <yolite/train/results_csv.hpp>
#include <yolite/train/run_dir.hpp>
#include <yolite/train/validate.hpp>
#include <yolite/train/weights.hpp>

#include <filesystem>

using namespace yolite;

TEST_SUITE("train") {
  TEST_CASE("hyp: built-ins by name, yaml round trip, unknown keys are errors") {
    auto low = train::load_hyp("hyp.scratch-low.yaml");
    CHECK(low.lr0 == 0.01);
    CHECK(low.mosaic == 1.0);
    auto med = train::load_hyp("data/hyps/hyp.scratch-med.yaml");
    CHECK(med.scale == 0.9);
    CHECK(med.mixup == 0.1);
    CHECK(train::load_hyp("hyp.scratch-high.yaml").copy_paste == 0.1);
    auto text = train::hyp_to_yaml(med);
    auto back = train::hyp_from_yaml(data::parse_yaml(text, "mem"), "mem");
    CHECK(back.lrf == med.lrf);
    CHECK(back.obj == med.obj);
    CHECK_THROWS_AS(train::hyp_from_yaml(data::parse_yaml("lr0: 0.1\nlr_zero: 2\n", "h.yaml"), "h.yaml"), Error);
    CHECK_THROWS_AS(train::load_hyp("no-such-hyp.yaml"), Error);
    // the EMA keys: YOLOv5's fixed values unless a file sets them, checked for range
    CHECK(low.ema_decay == 0.9999);
    CHECK(low.ema_tau == 2000.0);
    auto ft = train::hyp_from_yaml(data::parse_yaml("lr0: 0.002\nema_decay: 0.997\nema_tau: 100\n", "ft.yaml"), "ft.yaml");
    CHECK(ft.ema_decay == 0.997);
    CHECK(ft.ema_tau == 100.0);
    CHECK(ft.mosaic == 1.0);  // keys not given keep scratch-low's values
    CHECK_THROWS_WITH_AS(train::hyp_from_yaml(data::parse_yaml("ema_decay: 1.5\n", "e.yaml"), "e.yaml"),
                         doctest::Contains("e.yaml: ema_decay"), Error);
    CHECK_THROWS_WITH_AS(train::hyp_from_yaml(data::parse_yaml("ema_tau: 0\n", "e.yaml"), "e.yaml"),
                         doctest::Contains("ema_tau"), Error);
  }

  TEST_CASE("run dir: increments unless exist_ok") {
    namespace fs = std::filesystem;
    fs::path root = fs::temp_directory_path() / "yolite_test_rundir";
    fs::remove_all(root);
    auto a = train::make_run_dir(root.string(), "exp", false);
    auto b = train::make_run_dir(root.string(), "exp", false);
    auto c = train::make_run_dir(root.string(), "exp", true);
    CHECK(a.filename() == "exp");
    CHECK(b.filename() == "exp2");
    CHECK(c.filename() == "exp");
    fs::remove_all(root);
  }

  TEST_CASE("results.csv: YOLOv5 columns, rows read back") {
    namespace fs = std::filesystem;
    fs::path f = fs::temp_directory_path() / "yolite_test_results.csv";
    fs::remove(f);
    train::EpochRow r;
    r.epoch = 0, r.map50 = 0.5, r.train_loss = {0.1, 0.2, 0.3}, r.lr = {0.1, 0, 0};
    train::append_results_csv(f, r);
    r.epoch = 1, r.map50 = 0.75;
    train::append_results_csv(f, r);
    auto rows = train::read_results_csv(f);
    REQUIRE(rows.size() == 2);
    CHECK(rows[1].map50 == doctest::Approx(0.75));
    CHECK(rows[0].train_loss[2] == doctest::Approx(0.3));
    fs::remove(f);
  }
}
