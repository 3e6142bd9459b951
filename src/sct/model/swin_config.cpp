#include "sct/model/swin_config.h"

#include <algorithm>
#include <map>
#include <numeric>

#include "sct/core/error.h"
#include "sct/core/json_fields.h"

namespace sct {
namespace {

SwinConfig make(const char* name, int64_t img, int64_t dim, std::vector<int64_t> depths, std::vector<int64_t> heads,
                int64_t window) {
  SwinConfig c;
  c.name = name;
  c.img_size = img;
  c.embed_dim = dim;
  c.depths = std::move(depths);
  c.heads = std::move(heads);
  c.window_size = window;
  return c;
}

const std::map<std::string, SwinConfig>& registry() {
  static const std::map<std::string, SwinConfig> configs = [] {
    std::map<std::string, SwinConfig> m;
    for (const SwinConfig& c :
         {make("swin_tiny_patch4_window7_224", 224, 96, {2, 2, 6, 2}, {3, 6, 12, 24}, 7),
          make("swin_small_patch4_window7_224", 224, 96, {2, 2, 18, 2}, {3, 6, 12, 24}, 7),
          make("swin_base_patch4_window7_224", 224, 128, {2, 2, 18, 2}, {4, 8, 16, 32}, 7),
          make("swin_base_patch4_window12_384", 384, 128, {2, 2, 18, 2}, {4, 8, 16, 32}, 12)})
      m.emplace(c.name, c);
    return m;
  }();
  return configs;
}

}  // namespace

namespace {

template <typename Config, typename Visit>
void visit_fields(Config& c, Visit&& visit) {
  visit("name", c.name);
  visit("img_size", c.img_size);
  visit("patch_size", c.patch_size);
  visit("embed_dim", c.embed_dim);
  visit("depths", c.depths);
  visit("heads", c.heads);
  visit("window_size", c.window_size);
  visit("mlp_ratio", c.mlp_ratio);
  visit("num_classes", c.num_classes);
  visit("ln_eps", c.ln_eps);
}

const auto kFields = [](auto& c, auto&& visit) { visit_fields(c, visit); };

}  // namespace

nlohmann::json SwinConfig::to_json() const { return json_fields::to_json(*this, kFields); }

SwinConfig SwinConfig::from_json(const nlohmann::json& j) {
  json_fields::require_all<SwinConfig>(j, kFields, "Swin config");
  SwinConfig c = json_fields::from_json(j, SwinConfig{}, kFields, "Swin config");
  c.validate();
  return c;
}

int64_t SwinConfig::num_blocks() const { return std::accumulate(depths.begin(), depths.end(), int64_t(0)); }

void SwinConfig::validate() const {
  const std::string what = "Swin config '" + name + "': ";
  if (depths.empty() || depths.size() != heads.size())
    throw Error(what + "needs one head count per stage (" + std::to_string(depths.size()) + " stages, " +
                std::to_string(heads.size()) + " head counts)");
  if (patch_size <= 0 || img_size % patch_size != 0)
    throw Error(what + "image size " + std::to_string(img_size) + " is not a multiple of the patch size " +
                std::to_string(patch_size));
  if (embed_dim <= 0 || window_size <= 0 || mlp_ratio <= 0 || num_classes < 0)
    throw Error(what + "width, window, MLP ratio must be positive and the class count non-negative");
  for (int64_t s = 0; s < stages(); ++s) {
    const int64_t res = stage_resolution(s), window = stage_window(s);
    if (depths[s] <= 0 || heads[s] <= 0 || stage_width(s) % heads[s] != 0)
      throw Error(what + "stage " + std::to_string(s) + ": " + std::to_string(depths[s]) + " blocks, width " +
                  std::to_string(stage_width(s)) + " not divisible by " + std::to_string(heads[s]) + " heads");
    if (res <= 0 || res % window != 0 || (s + 1 < stages() && res % 2 != 0))
      throw Error(what + "stage " + std::to_string(s) + " has " + std::to_string(res) + " x " + std::to_string(res) +
                  " tokens, which " + std::to_string(window) + " x " + std::to_string(window) +
                  " windows (and patch merging's 2 x 2) do not tile; this model is built for " +
                  "other image sizes (e.g. " + std::to_string(patch_size * window << (stages() - 1)) + ")");
  }
}

SwinConfig swin_config(const std::string& name) {
  const auto it = registry().find(name);
  if (it == registry().end()) {
    std::string known;
    for (const auto& kv : registry()) known += (known.empty() ? "" : ", ") + kv.first;
    throw Error("unknown Swin model '" + name + "' (known: " + known + ")");
  }
  return it->second;
}

std::vector<std::string> swin_config_names() {
  std::vector<std::string> names;
  for (const auto& kv : registry()) names.push_back(kv.first);
  return names;
}

bool is_swin_config_name(const std::string& name) { return registry().count(name) > 0; }

}  // namespace sct
