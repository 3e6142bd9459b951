// The flags every command that builds a model shares, and the code that turns them into a model.
#pragma once
#include <c10/core/Device.h>

#include <cstdint>
#include <iosfwd>
#include <string>

#include "sct/data/image_decode.h"
#include "sct/io/checkpoint.h"
#include "sct/model/backbone.h"
#include "sct/runtime/precision.h"

namespace CLI {
class App;
}

namespace sct::cli {

// --max-image-pixels: larger images are refused before they are decoded (data/image_decode.h).
void add_max_image_pixels_flag(CLI::App& cmd, int64_t& value);

// --device, --threads, --seed, --precision, --max-image-pixels: applied before any work.
struct RuntimeFlags {
  std::string device = "cpu";
  int threads = 0;  // 0 = every CPU this process may use
  uint64_t seed = 42;
  std::string precision = "auto";
  int64_t max_image_pixels = kDefaultMaxImagePixels;

  void add_to(CLI::App& cmd);
  // Sets threads and seeds; returns the validated device.
  c10::Device apply() const;
  // --precision for `device`, with auto resolved (runtime/precision.h); warnings go to `log`.
  Precision resolved_precision(const c10::Device& device, std::ostream& log) const;
};

struct ModelFlags {
  RuntimeFlags runtime;
  std::string model = "vit_base_patch16_224";
  std::string model_config;                            // a JSON backbone config file, instead of model
  int64_t img_size = 0, num_classes = -1;              // 0 / -1 = the named config's value
  int64_t patch = 0, width = 0, depth = 0, heads = 0;  // for --model custom
  double mlp_ratio = 4.0;
  std::string checkpoint;
  bool allow_unexpected = false;

  void add_to(CLI::App& cmd);
  nlohmann::json config() const;  // a backbone config (model/backbone.h), validated
};

struct BuiltModel {
  Backbone model{nullptr};
  c10::Device device = c10::kCPU;
  Precision precision = Precision::fp32;  // resolved; the caller applies it after attaching a method
  LoadReport load;  // empty when no checkpoint was given (random init)
};

// Applies the runtime flags, builds the model, loads the checkpoint (strict), moves it to the device,
// and prints a one-paragraph summary of what was resolved to `log`.
BuiltModel build_model(const ModelFlags& flags, std::ostream& log);

}  // namespace sct::cli
