// gen_seeds: writes the small, generated part of the fuzzers' seed corpora (tests/fuzz/run.sh
// adds the real files: BCCD, `yolite synth` output, the PyTorch fixtures).
//
//   gen_seeds OUT_DIR SHARED_DIR SOURCE_DIR     -> OUT_DIR/<target>/<seed files>
//
// Every seed is written by yolite's own writers (safetensors, checkpoint, npy/npz, zip, images,
// label files, yaml) or cut out of a real file (the pickle and the DEFLATE streams), so the
// fuzzers start from inputs that parse and mutate from there.
#include <cstdio>
#include <filesystem>
#include <string>

#include <yolite/data/dataset_yaml.hpp>
#include <yolite/data/image_io.hpp>
#include <yolite/data/yaml.hpp>
#include <yolite/data/yolo_txt.hpp>
#include <yolite/io/checkpoint.hpp>
#include <yolite/io/npy.hpp>
#include <yolite/io/safetensors.hpp>
#include <yolite/io/zip.hpp>
#include <yolite/train/hyp.hpp>

namespace fs = std::filesystem;
using namespace yolite;

static void put(const fs::path& p, std::string_view bytes) {
  fs::create_directories(p.parent_path());
  data::write_file_atomic(p, bytes);
}

static Tensor<float> ramp(Shape s) {
  Tensor<float> t(s);
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = 0.25f * float(i) - 1.0f;
  return t;
}

// The raw DEFLATE stream of every compressed member of a zip file.
static void deflate_streams(const std::string& zip_path, const fs::path& out, int& n) {
  io::ZipReader z(zip_path);
  std::string bytes = io::read_file_bytes(zip_path);
  const auto* b = reinterpret_cast<const unsigned char*>(bytes.data());
  for (auto& e : z.entries()) {
    if (e.method != 8 || e.size > 65535) continue;
    uint64_t lo = e.local_offset;
    uint64_t start = lo + 30 + io::le16(b + lo + 26) + io::le16(b + lo + 28);
    std::string s;
    s += char(e.size & 0xff);
    s += char(e.size >> 8);
    s += bytes.substr(size_t(start), size_t(e.compressed_size));
    put(out / ("stream" + std::to_string(n++) + ".bin"), s);
  }
}

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: gen_seeds OUT_DIR SHARED_DIR SOURCE_DIR\n");
    return 2;
  }
  fs::path out = argv[1], shared = argv[2], source = argv[3];
  try {
    // safetensors + checkpoint
    {
      io::Safetensors st;
      st.add("conv.weight", io::Array::from(ramp(Shape{2, 3, 1, 1})));
      st.add("bn.num_batches_tracked", io::Array::from_i64({7}, {}));
      st.metadata["epoch"] = "3";
      io::save_safetensors((out / "safetensors" / "small.safetensors").string(), st);
      io::Checkpoint ck;
      ck.add("model.0.conv.weight", ramp(Shape{4, 3, 3, 3}));
      ck.add("ema.model.0.conv.weight", ramp(Shape{4, 3, 3, 3}));
      ck.add("optim.model.0.conv.weight", ramp(Shape{4}));
      ck.add_int("model.0.bn.num_batches_tracked", 12);
      ck.meta = {{"epoch", 2}, {"best_fitness", 0.25}, {"names", {"a", "b"}}, {"nc", 2}, {"resumable", true}};
      io::save_checkpoint((out / "checkpoint" / "small.pt").string(), ck);
      io::save_checkpoint((out / "safetensors" / "checkpoint.safetensors").string(), ck);
    }
    // npy / npz / zip
    {
      io::save_npy((out / "npy" / "f32.npy").string(), ramp(Shape{2, 3}));
      Tensor<double> d(Shape{3});
      d[0] = 1.5;
      io::save_npy((out / "npy" / "f64.npy").string(), d);
      io::save_npy((out / "npy" / "i64.npy").string(), io::Array::from_i64({1, -2, 3, 4}, {2, 2}));
      io::Npz z;
      z.set("model.0.conv.weight", ramp(Shape{2, 2}));
      z.set("n", io::Array::from_i64({5}, {}));
      io::save_npz((out / "zip" / "small.npz").string(), z);
      fs::copy_file(source / "tests/io/data/compressed.npz", out / "zip" / "compressed.npz",
                    fs::copy_options::overwrite_existing);
      fs::copy_file(source / "tests/io/data/deflate.zip", out / "zip" / "deflate.zip",
                    fs::copy_options::overwrite_existing);
      int n = 0;
      deflate_streams((source / "tests/io/data/compressed.npz").string(), out / "inflate", n);
      deflate_streams((source / "tests/io/data/deflate.zip").string(), out / "inflate", n);
    }
    // pickles: the real YOLOv5 data.pkl, a .pt holding only it (storages missing), tiny ones
    {
      fs::path pt = shared / "fixtures/yolov5n_nc5_seed0.pt";
      io::ZipReader z(pt.string());
      for (auto& e : z.entries()) {
        std::string n = e.name;
        if (n.size() >= 8 && n.compare(n.size() - 8, 8, "data.pkl") == 0) {
          std::string pkl = z.read(n);
          put(out / "pickle" / "yolov5n_data.pkl", pkl);
          io::ZipWriter w((out / "pt" / "pickle_only.pt").string());
          w.add("archive/data.pkl", pkl);
          w.add("archive/version", "3\n");
          w.finish();
        }
      }
      // {'a': 1, 'b': [1.5, 'x', None, True]} (protocol 2), and protocol 0 text opcodes
      static const char p2[] =
          "\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01K\x01X\x01\x00\x00\x00bq\x02]q\x03(G?\xf8\x00\x00"
          "\x00\x00\x00\x00X\x01\x00\x00\x00xq\x04N\x88" "eu.";
      put(out / "pickle" / "dict_p2.pkl", std::string(p2, sizeof p2 - 1));
      put(out / "pickle" / "p0.pkl", "(lp0\nI1\naS'abc'\np1\na(dp2\nVkey\np3\nF2.5\nsa.");
      static const char g[] = "\x80\x02" "cos\nsystem\nq\x00X\x02\x00\x00\x00lsq\x01\x85q\x02Rq\x03.";
      put(out / "pickle" / "global.pkl", std::string(g, sizeof g - 1));
    }
    // images: tiny JPEG / PNG / BMP, RGB and gray
    {
      Image img(13, 7, 3);
      for (size_t i = 0; i < img.px.size(); ++i) img.px[i] = uint8_t(i * 37);
      data::save_image(out / "image" / "small.jpg", img);
      data::save_image(out / "image" / "small.png", img);
      data::save_image(out / "image" / "small.bmp", img);
      Image g(5, 9, 1, 128);
      data::save_image(out / "image" / "gray.png", g);
      data::save_image(out / "image" / "gray.jpg", g, 50);
    }
    // YOLO labels and classes.txt
    {
      put(out / "yolo_txt" / "boxes.txt", "0 0.5 0.5 0.25 0.125\n1 0.1 0.2 0.05 0.05\n");
      put(out / "yolo_txt" / "conf.txt", "2 0.5 0.5 0.25 0.125 0.93\n");
      put(out / "yolo_txt" / "polygon.txt", "0 0.1 0.1 0.4 0.1 0.4 0.3 0.1 0.3\n");
      put(out / "yolo_txt" / "classes.txt", "Blue Bottle\nGreen Bottle\n");
    }
    // yaml: hyp files, a dataset yaml, flow/block/scalar forms
    {
      put(out / "yaml" / "hyp.scratch-low.yaml", train::hyp_to_yaml(train::Hyp::scratch_low()));
      data::DatasetYaml d;
      d.root = "/data/bottles";
      d.train = {"images/train"};
      d.val = {"images/val"};
      d.names = {"a", "b c", "it's"};
      data::write_dataset_yaml(out / "yaml" / "dataset.yaml", d);
      put(out / "yaml" / "forms.yaml",
          "# comment\npath: ../datasets/coco128  # root\ntrain: [images/train, 'x y', \"z\\n\"]\n"
          "names:\n  0: person\n  1: bicycle\nopt: {a: 1, b: [2, 3]}\nlist:\n  - k: v\n    j: ~\n  - plain\n"
          "download: |\n  echo hi\n  echo there\nfolded: >\n  one\n  two\nempty:\n");
    }
    // COCO: a small valid file and one with defects
    {
      put(out / "coco" / "small.json",
          R"({"images":[{"id":1,"file_name":"a.jpg","width":64,"height":48}],)"
          R"("annotations":[{"id":1,"image_id":1,"category_id":1,"bbox":[-1.0,2,10,20],"area":200,"iscrowd":0,"segmentation":[[1,2,3,4]]}],)"
          R"("categories":[{"id":0,"name":"things","supercategory":"none"},{"id":1,"name":"cell","supercategory":"things"}]})");
      put(out / "coco" / "defects.json",
          R"({"info":{},"images":[{"id":1,"file_name":"a.jpg","width":0,"height":48},{"id":1,"file_name":"b.jpg","width":5,"height":5}],)"
          R"("annotations":[{"id":1,"image_id":7,"category_id":1,"bbox":[1,2,0,20],"area":0,"iscrowd":1}],"categories":[{"id":1,"name":"x"}]})");
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gen_seeds: %s\n", e.what());
    return 1;
  }
  return 0;
}
