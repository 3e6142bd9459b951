#include "sct/data/normalize.h"

#include <cmath>
#include <sstream>

#include "sct/core/error.h"

namespace sct {

std::array<float, 3> parse_channel_triple(const std::string& text, const std::string& flag) {
  std::array<float, 3> out{};
  std::stringstream ss(text);
  std::string item;
  size_t n = 0;
  while (std::getline(ss, item, ',')) {
    if (n == 3) throw Error(flag + ": expected three comma-separated numbers, got '" + text + "'");
    size_t used = 0;
    try {
      out[n] = std::stof(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || item.find_first_not_of(" \t", used) != std::string::npos || !std::isfinite(out[n]))
      throw Error(flag + ": '" + item + "' is not a number (in '" + text + "')");
    ++n;
  }
  if (n != 3) throw Error(flag + ": expected three comma-separated numbers, got '" + text + "'");
  return out;
}

NormalizeTable::NormalizeTable(const Normalization& n) {
  for (int c = 0; c < 3; ++c) {
    if (!(n.std[c] > 0.0f)) throw Error("normalisation std must be positive, got " + std::to_string(n.std[c]));
    for (int v = 0; v < 256; ++v) {
      // Two float32 roundings, in torchvision's order: ToTensor's division, then Normalize's
      // subtraction and division. Folding them into one multiply-add would change the last bit.
      const float x = static_cast<float>(v) / 255.0f;
      table_[c][v] = (x - n.mean[c]) / n.std[c];
    }
  }
}

void normalize_to_chw(const uint8_t* rgb, int64_t h, int64_t w, const NormalizeTable& table, float* out) {
  const int64_t plane = h * w;
  float* r = out;
  float* g = out + plane;
  float* b = out + 2 * plane;
  for (int64_t i = 0; i < plane; ++i) {
    r[i] = table(0, rgb[3 * i + 0]);
    g[i] = table(1, rgb[3 * i + 1]);
    b[i] = table(2, rgb[3 * i + 2]);
  }
}

}  // namespace sct
