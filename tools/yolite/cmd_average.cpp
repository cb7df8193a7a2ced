// yolite average -- a model soup: the mean of the weights of several checkpoints.
//
//   yolite average runs/a/weights/last.pt runs/b/weights/last.pt [...] --out soup.pt
//
// Fine-tune one model several times (other data, seeds or settings), then average the results:
// the mean of models that start from the same weights is often better than any of them on data
// unlike what they trained on (Wortsman et al. 2022), and it costs one model at inference.
// Each input contributes its inference weights (the EMA of a training checkpoint); they must be
// the same architecture with the same classes. The output is a stripped, non-resumable
// checkpoint that `detect`, `val`, `export` and `train --weights` read like any other, written
// to a temporary name and then renamed.
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include <yolite/train/weights.hpp>

#include "command.hpp"

namespace {

int run_average(int argc, char** argv) {
  CLI::App app{"average the weights of checkpoints fine-tuned from one model (a model soup)", "yolite average"};
  std::vector<std::string> in;
  std::string out;
  app.add_option("weights", in, "two or more yolite checkpoints of the same model")->required();
  app.add_option("--out", out, "where to write the averaged checkpoint")->required();
  CLI11_PARSE(app, argc, argv);
  for (auto& f : in) YOLITE_CHECK(std::filesystem::is_regular_file(f), f, ": no such checkpoint");
  const size_t n = yolite::train::average_checkpoints(in, out);
  std::printf("averaged %zu checkpoints (%zu tensors each) -> %s %.1f MB\n", in.size(), n, out.c_str(),
              double(std::filesystem::file_size(out)) / 1e6);
  return 0;
}

}  // namespace

YOLITE_COMMAND(average, "average checkpoints fine-tuned from one model (a model soup)", run_average);
