// Tests for data/yaml.hpp (the YAML subset) and data/dataset_yaml.hpp (YOLOv5 dataset yamls).
#include <doctest/doctest.h>

#include "../test_util.hpp"

#include <filesystem>
#include <string>

#include <yolite/data/dataset_yaml.hpp>
#include <yolite/data/fs.hpp>
#include <yolite/data/image_io.hpp>
#include <yolite/data/yaml.hpp>

namespace fs = std::filesystem;
using namespace yolite;
using namespace yolite::testing;


TEST_SUITE("data") {
  TEST_CASE("yaml: YOLOv5 hyp file (flat key: number with comments)") {
    auto y = data::parse_yaml(
        "# YOLOv5 hyperparameters\n"
        "lr0: 0.01  # initial learning rate (SGD=1E-2, Adam=1E-3)\n"
        "lrf: 0.01\n"
        "momentum: 0.937 # SGD momentum/Adam beta1\n"
        "\n"
        "warmup_epochs: 3.0\n"
        "fl_gamma: 0.0  # focal loss gamma (efficientDet default gamma=1.5)\n"
        "hsv_h: 0.015\n"
        "anchors: 3\n"
        "neg: -2.5e-3\n",
        "hyp.yaml");
    CHECK(y["lr0"].num() == doctest::Approx(0.01));
    CHECK(y["momentum"].num() == doctest::Approx(0.937));
    CHECK(y["warmup_epochs"].num() == 3.0);
    CHECK(y["anchors"].integer() == 3);
    CHECK(y["neg"].num() == doctest::Approx(-0.0025));
    CHECK(y.map().size() == 8);
    CHECK(y["missing"].is_null());
    auto msg = error_of([&] { y["lr0"].items(); });
    CHECK(contains(msg, "hyp.yaml:2"));
  }

  TEST_CASE("yaml: names as flow list (multi-line), block list and dict; quotes; block scalar") {
    auto y = data::parse_yaml(
        "path: ../datasets/coco128  # dataset root dir\n"
        "train: images/train2017\n"
        "val: [images/val2017, 'images/extra # not a comment']\n"
        "names: [ 'person', \"bi,cycle\", 'car''s',\n"
        "         plain name ]  # continues\n"
        "block:\n"
        "  - a\n"
        "  - 'b: c'\n"
        "  -   d\n"
        "dict:\n"
        "  0: zero\n"
        "  1: 'one'\n"
        "nested:\n"
        "  key: {a: 1, b: [2, 3]}\n"
        "  empty:\n"
        "  tilde: ~\n"
        "items:\n"
        "- name: x\n"
        "  size: 2\n"
        "- name: y\n"
        "download: |\n"
        "  from utils.general import download\n"
        "  # a python comment, kept\n"
        "  download(url)\n"
        "after: 1\n",
        "ds.yaml");
    CHECK(y["path"].str() == "../datasets/coco128");
    REQUIRE(y["val"].items().size() == 2);
    CHECK(y["val"].items()[1].str() == "images/extra # not a comment");
    auto& n = y["names"].items();
    REQUIRE(n.size() == 4);
    CHECK(n[0].str() == "person");
    CHECK(n[1].str() == "bi,cycle");
    CHECK(n[2].str() == "car's");
    CHECK(n[3].str() == "plain name");
    auto& b = y["block"].items();
    REQUIRE(b.size() == 3);
    CHECK(b[1].str() == "b: c");
    CHECK(b[2].str() == "d");
    CHECK(y["dict"]["1"].str() == "one");
    CHECK(y["nested"]["key"]["b"].items()[1].num() == 3);
    CHECK(y["nested"]["empty"].is_null());
    CHECK(y["nested"]["tilde"].is_null());
    REQUIRE(y["items"].items().size() == 2);
    CHECK(y["items"].items()[0]["size"].integer() == 2);
    CHECK(y["items"].items()[1]["name"].str() == "y");
    CHECK(y["download"].str() == "from utils.general import download\n# a python comment, kept\ndownload(url)\n");
    CHECK(y["after"].integer() == 1);
  }

  TEST_CASE("yaml: errors name file:line") {
    CHECK(contains(error_of([] { data::parse_yaml("a: 1\n  b: 2\n", "x.yaml"); }), "x.yaml:2"));
    CHECK(contains(error_of([] { data::parse_yaml("a: 1\nnames: ['a', 'b'\nc: 3\n", "x.yaml"); }), "x.yaml:2"));
    CHECK(contains(error_of([] { data::parse_yaml("a: 1\na: 2\n", "x.yaml"); }), "duplicate key"));
    CHECK(contains(error_of([] { data::parse_yaml("a: 1\njust text\n", "x.yaml"); }), "x.yaml:2"));
    CHECK(contains(error_of([] { data::parse_yaml("a: &x 1\n", "x.yaml"); }), "anchors"));
    CHECK(contains(error_of([] { data::parse_yaml("a:\n\t- 1\n", "x.yaml"); }), "tab"));
    CHECK(contains(error_of([] { data::parse_yaml("lr: fast\n", "h.yaml")["lr"].num(); }), "h.yaml:1"));
    CHECK(contains(error_of([] { data::read_yaml("/nonexistent/dir/h.yaml"); }), "h.yaml"));
  }

  TEST_CASE("yaml: writer round trip (opt.yaml style)") {
    data::Yaml y = data::Yaml::mapping();
    y.set("weights", data::Yaml::string("yolov5s.pt"));
    y.set("epochs", data::Yaml::number(300));
    y.set("lr", data::Yaml::number(0.1));
    y.set("name", data::Yaml::string("123"));  // a text that looks like a number stays text
    y.set("tricky", data::Yaml::string("a: b # c, 'd'"));
    y.set("multi", data::Yaml::string("line1\nline2"));
    y.set("none", data::Yaml());
    y.set("rect", data::Yaml::boolean(false));
    auto l = data::Yaml::list();
    l.push_back(data::Yaml::number(640));
    l.push_back(data::Yaml::number(480));
    y.set("img_size", l);
    auto nested = data::Yaml::mapping();
    nested.set("0", data::Yaml::string("person"));
    nested.set("1", data::Yaml::string("true"));
    y.set("names", nested);
    auto lm = data::Yaml::list();
    lm.push_back(nested);
    lm.push_back(nested);
    y.set("list_of_maps", lm);
    y.set("empty_map", data::Yaml::mapping());
    std::string text = data::to_yaml(y);
    auto back = data::parse_yaml(text, "opt.yaml");
    CHECK(back["weights"].str() == "yolov5s.pt");
    CHECK(back["epochs"].integer() == 300);
    CHECK(back["lr"].num() == 0.1);
    CHECK(back["name"].str() == "123");
    CHECK(back["name"].quoted());
    CHECK(back["tricky"].str() == "a: b # c, 'd'");
    CHECK(back["multi"].str() == "line1\nline2");
    CHECK(back["none"].is_null());
    CHECK(back["rect"].boolean() == false);
    CHECK(back["img_size"].items()[1].integer() == 480);
    CHECK(back["names"]["1"].str() == "true");
    CHECK(back["list_of_maps"].items().size() == 2);
    CHECK(back["list_of_maps"].items()[1]["0"].str() == "person");
    CHECK(back["empty_map"].is_map());
    CHECK(data::to_yaml(back) == text);
  }

  TEST_CASE("dataset yaml: variants, path resolution, img2label") {
    auto dir = fresh_dir("dataset_yaml");
    data::write_file_atomic(dir / "cfg/a.yaml",
                            "path: ../ds  # relative to the yaml's folder\n"
                            "train: images/train\n"
                            "val: [images/val, extra/list.txt]\n"
                            "nc: 2\n"
                            "names: ['cat', 'dog']\n");
    auto d = data::read_dataset_yaml(dir / "cfg/a.yaml");
    CHECK(d.root == (fs::absolute(dir) / "ds").lexically_normal());
    CHECK(d.nc() == 2);
    CHECK(d.names[1] == "dog");
    auto v = d.sources("val");
    REQUIRE(v.size() == 2);
    CHECK(v[1] == d.root / "extra/list.txt");
    CHECK(d.test.empty());

    data::write_file_atomic(dir / "b.yaml", "train: t\nval: v\nnames:\n  - cat\n  - dog\n  - bird\n");
    auto b = data::read_dataset_yaml(dir / "b.yaml");
    CHECK(b.root == fs::absolute(dir).lexically_normal());  // no path: the yaml's folder
    CHECK(b.nc() == 3);
    data::write_file_atomic(dir / "c.yaml", "path: /abs/root\ntrain: t\nval: v\nnames:\n  1: dog\n  0: cat\n");
    auto c = data::read_dataset_yaml(dir / "c.yaml");
    CHECK(c.root == "/abs/root");
    CHECK(c.names == std::vector<std::string>{"cat", "dog"});
    data::write_file_atomic(dir / "d.yaml", "train: t\nval: v\nnc: 3\n");
    CHECK(data::read_dataset_yaml(dir / "d.yaml").names[2] == "class2");

    data::write_file_atomic(dir / "bad1.yaml", "train: t\nval: v\nnc: 3\nnames: [a, b]\n");
    CHECK(contains(error_of([&] { data::read_dataset_yaml(dir / "bad1.yaml"); }), "bad1.yaml:3"));
    data::write_file_atomic(dir / "bad2.yaml", "train: t\nnames:\n  0: a\n  5: b\n");
    CHECK(contains(error_of([&] { data::read_dataset_yaml(dir / "bad2.yaml"); }), "bad2.yaml:4"));
    data::write_file_atomic(dir / "bad3.yaml", "train: t\n");
    CHECK(contains(error_of([&] { data::read_dataset_yaml(dir / "bad3.yaml"); }), "bad3.yaml"));
    CHECK(contains(error_of([&] { d.split("dev"); }), "dev"));

    CHECK(data::img2label_path("/r/images/train/a.jpg") == "/r/labels/train/a.txt");
    CHECK(data::img2label_path("/images/r/images/x/b.PNG") == "/images/r/labels/x/b.txt");
    CHECK(data::img2label_path("/r/pics/images.jpg") == "/r/pics/images.txt");

    // write -> read keeps everything
    data::write_dataset_yaml(dir / "out/w.yaml", d);
    auto w = data::read_dataset_yaml(dir / "out/w.yaml");
    CHECK(w.root == d.root);
    CHECK(w.train == d.train);
    CHECK(w.val == d.val);
    CHECK(w.names == d.names);
  }

  TEST_CASE("dataset yaml: load_yolo_split pairs images with labels") {
    auto dir = fresh_dir("dataset_yaml_load");
    Image img(40, 30, 3, 100);
    data::save_image(dir / "images/train/a.png", img);
    data::save_image(dir / "images/train/sub/b.png", img);
    data::save_image(dir / "images/val/c.bmp", img);
    data::write_file_atomic(dir / "labels/train/a.txt", "1 0.5 0.5 0.2 0.4\n0 0.25 0.25 0.1 0.1\n");
    data::write_file_atomic(dir / "labels/val/c.txt", "0 0.5 0.5 1 1\n");
    data::write_file_atomic(dir / "lists/val.txt", "./../images/val/c.bmp\n\n");
    data::write_file_atomic(dir / "data.yaml",
                            "path: .\ntrain: images/train\nval: lists/val.txt\nnames: {0: a, 1: b}\n");
    auto d = data::read_dataset_yaml(dir / "data.yaml");
    auto train = data::load_yolo_split(d, "train");
    REQUIRE(train.samples.size() == 2);
    CHECK(train.nc() == 2);
    CHECK(train.samples[0].boxes.size() == 2);
    CHECK(train.samples[0].boxes[0].cls == 1);
    CHECK(train.samples[0].width == 40);
    CHECK(train.samples[0].height == 30);
    CHECK(train.samples[1].boxes.empty());  // sub/b.png has no label file: background image
    auto val = data::load_yolo_split(d, "val");
    REQUIRE(val.samples.size() == 1);
    CHECK(val.samples[0].boxes.size() == 1);
    CHECK(contains(error_of([&] { data::load_yolo_split(d, "test"); }), "test"));
    // a label with a class >= nc names file:line
    data::write_file_atomic(dir / "labels/train/a.txt", "1 0.5 0.5 0.2 0.4\n2 0.5 0.5 0.2 0.4\n");
    auto msg = error_of([&] { data::load_yolo_split(d, "train"); });
    CHECK(contains(msg, "a.txt:2"));
  }

  TEST_CASE("yaml: JSON both ways with PyYAML's scalar types; nested flow lists") {
    const auto y = data::parse_yaml(
        "a: 3\nb: 0.25\nc: True\nd: false\ne: ~\nf: None\ng: '12'\nh: nearest\ni: -1\nj:\n"
        "k: [[-1, 6], 1, Concat, [1]]\nl: +5\n", "t.yaml");
    const nlohmann::json j = data::yaml_to_json(y);
    CHECK(j["a"] == 3);
    CHECK(j["a"].is_number_integer());
    CHECK(j["b"] == 0.25);
    CHECK(j["c"] == true);
    CHECK(j["d"] == false);
    CHECK(j["e"].is_null());
    CHECK(j["f"] == "None");  // PyYAML: a plain None is the text 'None'
    CHECK(j["g"] == "12");    // quoted: text
    CHECK(j["h"] == "nearest");
    CHECK(j["i"] == -1);
    CHECK(j["j"].is_null());
    CHECK(j["k"] == nlohmann::json::parse(R"([[-1, 6], 1, "Concat", [1]])"));
    CHECK(j["l"] == 5);
    // back: the same JSON, and short nested lists written on one line
    const std::string text = data::to_yaml(data::yaml_from_json(j));
    CHECK(text.find("k: [[-1, 6], 1, Concat, [1]]\n") != std::string::npos);
    CHECK(text.find("g: '12'\n") != std::string::npos);
    CHECK(data::yaml_to_json(data::parse_yaml(text, "back.yaml")) == j);
    // numbers PyYAML reads as numbers: fixed-point, or an exponent after a dot
    CHECK(data::to_yaml(data::yaml_from_json(nlohmann::json{{"wd", 0.0005}, {"tiny", 1e-10}, {"big", 3e20}})) ==
          "big: 3.0e+20\ntiny: 1.0e-10\nwd: 0.0005\n");
    // a long list of lists stays a block list of flow rows
    data::Yaml rows = data::Yaml::list();
    for (int i = 0; i < 12; ++i) {
      data::Yaml r = data::Yaml::list();
      r.push_back(data::Yaml::number(i));
      r.push_back(data::Yaml::string("Conv"));
      rows.push_back(r);
    }
    data::Yaml m = data::Yaml::mapping();
    m.set("backbone", rows);
    const std::string t2 = data::to_yaml(m);
    CHECK(t2.rfind("backbone:\n  - [0, Conv]\n  - [1, Conv]\n", 0) == 0);
    CHECK(data::yaml_to_json(data::parse_yaml(t2, "rows.yaml"))["backbone"].size() == 12);
  }
}
