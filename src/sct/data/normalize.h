// uint8 RGB (H, W, 3) -> the float CHW input of the model: torchvision's ToTensor (x / 255) followed by
// Normalize ((x - mean) / std), computed in float32 with the same operations, so the values are
// bit-identical to torchvision's.
#pragma once
#include <array>
#include <cstdint>
#include <string>

namespace sct {

struct Normalization {
  // ImageNet statistics: what the reference feeds ViT-B/16 (timm IMAGENET_DEFAULT_MEAN/STD).
  std::array<float, 3> mean{0.485f, 0.456f, 0.406f};
  std::array<float, 3> std{0.229f, 0.224f, 0.225f};

  static Normalization imagenet() { return {}; }
  // 0.5 / 0.5 ("inception"): what Google's ViT-B_16.npz was pretrained with.
  static Normalization inception() { return {{0.5f, 0.5f, 0.5f}, {0.5f, 0.5f, 0.5f}}; }
};

// Parses "a,b,c" (three floats) for command-line flags; `flag` names the option in errors.
std::array<float, 3> parse_channel_triple(const std::string& text, const std::string& flag);

// Every per-channel output value precomputed for the 256 possible inputs: normalising an image is then
// one table read per value.
class NormalizeTable {
 public:
  explicit NormalizeTable(const Normalization& n);  // throws sct::Error when a std is not positive
  float operator()(int channel, uint8_t v) const { return table_[channel][v]; }

 private:
  float table_[3][256];
};

// rgb: h * w * 3 bytes, row-major HWC. out: 3 * h * w floats, CHW (one plane per channel).
void normalize_to_chw(const uint8_t* rgb, int64_t h, int64_t w, const NormalizeTable& table, float* out);

}  // namespace sct
