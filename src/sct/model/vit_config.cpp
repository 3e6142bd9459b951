#include "sct/model/vit_config.h"

#include <functional>
#include <map>

#include "sct/core/error.h"
#include "sct/core/json_fields.h"

namespace sct {

namespace {

template <typename Config, typename Visit>
void visit_fields(Config& c, Visit&& visit) {
  visit("name", c.name);
  visit("img_size", c.img_size);
  visit("patch_size", c.patch_size);
  visit("in_chans", c.in_chans);
  visit("width", c.width);
  visit("depth", c.depth);
  visit("heads", c.heads);
  visit("mlp_ratio", c.mlp_ratio);
  visit("num_classes", c.num_classes);
  visit("ln_eps", c.ln_eps);
}

const auto kFields = [](auto& c, auto&& visit) { visit_fields(c, visit); };

}  // namespace

nlohmann::json VitConfig::to_json() const { return json_fields::to_json(*this, kFields); }

VitConfig VitConfig::from_json(const nlohmann::json& j) {
  json_fields::require_all<VitConfig>(j, kFields, "backbone config");
  VitConfig c = json_fields::from_json(j, VitConfig{}, kFields, "backbone config");
  c.validate();
  return c;
}
namespace {

VitConfig make(const char* name, int64_t patch, int64_t width, int64_t depth, int64_t heads, int64_t img_size = 224) {
  VitConfig c;
  c.name = name;
  c.img_size = img_size;
  c.patch_size = patch;
  c.width = width;
  c.depth = depth;
  c.heads = heads;
  return c;
}

const std::map<std::string, VitConfig>& registry() {
  static const std::map<std::string, VitConfig> configs = [] {
    std::map<std::string, VitConfig> m;
    for (const VitConfig& c : {make("vit_tiny_patch16_224", 16, 192, 12, 3),
                               make("vit_small_patch16_224", 16, 384, 12, 6),
                               make("vit_base_patch16_224", 16, 768, 12, 12),
                               make("vit_large_patch16_224", 16, 1024, 24, 16),
                               make("vit_huge_patch14_224", 14, 1280, 32, 16),
                               // sct's own: the embedded backbones' shapes (docs/pretraining.md)
                               make("vit_pico_patch4_32", 4, 96, 12, 3, 32),
                               make("vit_tiny_patch4_32", 4, 192, 12, 3, 32)})
      m.emplace(c.name, c);
    return m;
  }();
  return configs;
}

}  // namespace

void VitConfig::validate() const {
  auto fail = [&](const std::string& why) { throw Error("model '" + name + "': " + why); };
  if (patch_size <= 0 || img_size <= 0) fail("image and patch size must be positive");
  if (img_size % patch_size != 0)
    fail("image size " + std::to_string(img_size) + " is not a multiple of patch size " +
         std::to_string(patch_size));
  if (width <= 0 || depth <= 0 || heads <= 0) fail("width, depth and heads must be positive");
  if (width % heads != 0)
    fail("width " + std::to_string(width) + " is not divisible by " + std::to_string(heads) + " heads");
  if (mlp_ratio <= 0) fail("mlp ratio must be positive");
  if (num_classes < 0) fail("number of classes must be >= 0");
  if (drop_path_rate < 0 || drop_path_rate >= 1) fail("drop path rate must be in [0, 1)");
}

VitConfig vit_config(const std::string& name) {
  const auto& m = registry();
  auto it = m.find(name);
  if (it == m.end()) {
    std::string known;
    for (const auto& kv : m) known += " " + kv.first;
    throw Error("unknown model '" + name + "'; known:" + known + " custom");
  }
  return it->second;
}

std::vector<std::string> vit_config_names() {
  std::vector<std::string> names;
  for (const auto& kv : registry()) names.push_back(kv.first);
  return names;
}

}  // namespace sct
