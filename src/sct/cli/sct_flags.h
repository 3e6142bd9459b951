// The SCT flags shared by `sct select`, `sct train` and `sct bench`, and the selection pass they run.
#pragma once
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "sct/data/image_cache.h"
#include "sct/data/normalize.h"
#include "sct/peft/channel_selector.h"

namespace CLI {
class App;
}

namespace sct::cli {

// "all", "last:N" or "i,j,..." -> ascending block indices in [0, depth).
std::vector<int64_t> parse_blocks(const std::string& spec, int64_t depth, const std::string& flag = "--blocks");

struct SctFlags {
  std::string position = "attn";
  std::string strategy = "salient";
  std::string k = "1/8";
  std::string blocks = "all";
  bool reference_mlp_site = false;
  std::string scale = "none";  // none | recipe | a number
  bool scale_on_x = false;
  int64_t select_batch = 32;

  // `with_scale`: the module's scale options (train, bench), not only the selection's.
  void add_to(CLI::App& cmd, bool with_scale);
  SelectionOptions selection_options(int64_t depth, uint64_t seed) const;
  // The module's scale: none, the recipe's (`recipe_scale`, when a recipe is in use) or the number given.
  std::optional<double> resolved_scale(std::optional<double> recipe_scale) const;
};

// The CAIS pass over `cache` (no augmentation), with a progress line on `log`.
Selection select_on(VisionTransformer model, const ImageCache& cache, int64_t num_classes,
                    const SelectionOptions& options, const Normalization& normalization, int64_t batch_size,
                    std::ostream& log);

}  // namespace sct::cli
