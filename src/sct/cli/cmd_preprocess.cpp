// `sct preprocess`: images -> the normalised NCHW float32 tensor the model would see, as safetensors
// (key `x`), so the image pipeline can be checked against PIL + torchvision outside sct.
#include <CLI/CLI.hpp>
#include <iostream>
#include <sstream>

#include "sct/cli/commands.h"
#include "sct/cli/model_flags.h"
#include "sct/data/image_decode.h"
#include "sct/data/normalize.h"
#include "sct/data/preprocess.h"
#include "sct/io/output_path.h"
#include "sct/io/safetensors.h"

namespace sct::cli {
namespace {

struct PreprocessFlags {
  std::vector<std::string> images;
  std::string output, mean, std;
  int64_t size = 224;
  int threads = 0;
  int64_t max_image_pixels = kDefaultMaxImagePixels;
};

std::string join(const std::array<float, 3>& v) {
  std::ostringstream s;
  s << v[0] << "," << v[1] << "," << v[2];
  return s.str();
}

void run_preprocess(const PreprocessFlags& flags) {
  std::vector<NamedPath> inputs;
  for (const std::string& image : flags.images) inputs.push_back({"image argument", image});
  check_outputs_are_new({{"--out", flags.output}}, inputs);
  set_max_image_pixels(flags.max_image_pixels);
  Normalization norm;
  if (!flags.mean.empty()) norm.mean = parse_channel_triple(flags.mean, "--mean");
  if (!flags.std.empty()) norm.std = parse_channel_triple(flags.std, "--std");
  std::cerr << "preprocess: " << flags.images.size() << " images -> " << flags.size << "x" << flags.size
            << " (PIL bicubic), mean " << join(norm.mean) << ", std " << join(norm.std) << "\n";
  const at::Tensor x = preprocess_image_files(flags.images, flags.size, norm, flags.threads);
  save_safetensors(flags.output, {{"x", x}},
                   {{"format", "pt"},
                    {"size", std::to_string(flags.size)},
                    {"mean", join(norm.mean)},
                    {"std", join(norm.std)},
                    {"resize", "pil-bicubic"},
                    {"written_by", "sct preprocess"}});
  std::cout << "wrote " << flags.output << ": x " << x.sizes() << " float32\n";
}

}  // namespace

void add_preprocess_command(CLI::App& app) {
  auto flags = std::make_shared<PreprocessFlags>();
  CLI::App* cmd =
      app.add_subcommand("preprocess", "images -> the normalised tensor the model sees (safetensors, key x)");
  cmd->add_option("images", flags->images, "image files (JPEG, PNG, ...)")->required()->check(CLI::ExistingFile);
  cmd->add_option("--size", flags->size, "model input size S (images are resized to S x S)")
      ->capture_default_str()
      ->check(CLI::Range(1, 8192));
  cmd->add_option("--out", flags->output, "safetensors to write: x (N, 3, S, S) float32")->required();
  cmd->add_option("--mean", flags->mean, "per-channel mean m,m,m (default ImageNet 0.485,0.456,0.406)");
  cmd->add_option("--std", flags->std, "per-channel std s,s,s (default ImageNet 0.229,0.224,0.225)");
  cmd->add_option("--threads", flags->threads, "decode threads (0: all CPUs)")->capture_default_str();
  add_max_image_pixels_flag(*cmd, flags->max_image_pixels);
  cmd->callback([flags] { run_preprocess(*flags); });
}

}  // namespace sct::cli
