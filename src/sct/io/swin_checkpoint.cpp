#include "sct/io/swin_checkpoint.h"

#include <cmath>
#include <regex>

#include "sct/core/error.h"

namespace sct {
namespace {

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

}  // namespace

bool is_swin_state(const TensorMap& state) {
  for (const auto& kv : state)
    if (starts_with(kv.first, "layers.")) return true;
  return false;
}

bool is_microsoft_swin_state(const TensorMap& state) {
  // Microsoft's stage 0 ends with patch merging; timm's stage 0 has none.
  return state.count("layers.0.downsample.reduction.weight") > 0;
}

TensorMap swin_state_to_timm(TensorMap state, std::vector<std::string>* renamed) {
  if (!is_microsoft_swin_state(state)) return state;
  static const std::regex downsample(R"(^layers\.(\d+)\.downsample\.(.*)$)");
  TensorMap out;
  for (auto& [name, tensor] : state) {
    std::smatch m;
    std::string key = name;
    if (std::regex_match(name, m, downsample))
      key = "layers." + std::to_string(std::stoll(m[1]) + 1) + ".downsample." + m[2].str();
    else if (starts_with(name, "head.") && !starts_with(name, "head.fc."))
      key = "head.fc." + name.substr(5);
    if (!out.emplace(key, std::move(tensor)).second)
      throw Error("Swin checkpoint: '" + name + "' and another tensor both map to '" + key + "'");
  }
  if (renamed) {
    renamed->push_back("layers.<s>.downsample.* -> layers.<s+1>.downsample.* (Microsoft's layout: merging ends a stage)");
    renamed->push_back("head.* -> head.fc.*");
  }
  return out;
}

void check_swin_window(const TensorMap& state, const SwinConfig& cfg, const std::string& source) {
  static const std::regex table(R"(^layers\.(\d+)\.blocks\.\d+\.attn\.relative_position_bias_table$)");
  for (const auto& [name, tensor] : state) {
    std::smatch m;
    if (!std::regex_match(name, m, table) || tensor.dim() != 2) continue;
    const int64_t s = std::stoll(m[1]);
    if (s >= cfg.stages()) continue;  // the strict load names it as unexpected
    const int64_t rows = tensor.size(0), expected = cfg.stage_window(s);
    const int64_t side = std::llround(std::sqrt(double(rows)));
    if (rows == (2 * expected - 1) * (2 * expected - 1)) continue;
    const std::string theirs =
        side * side == rows && side % 2 == 1 ? "window " + std::to_string((side + 1) / 2) : std::to_string(rows) + " rows";
    throw Error("checkpoint '" + source + "' was made for another window size: '" + name + "' is a table for " + theirs +
                ", model '" + cfg.name + "' uses window " + std::to_string(expected) + " in stage " + std::to_string(s) +
                ". Relative position tables are not resized: build the model the checkpoint was trained as "
                "(e.g. swin_base_patch4_window7_224 for a window-7 file, swin_base_patch4_window12_384 for window 12)");
  }
}

}  // namespace sct
