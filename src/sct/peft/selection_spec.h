// What the user asks SCT's selection for: how many channels per block (KSpec), which blocks, and
// which strategy, as text ("1/8", "last:6", "salient") checked here once for every caller.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace sct {

// How many channels each selected block keeps: a count, a fraction of the width (default 1/8: 96 of
// 768), or one count per selected block (paper Tab. 1, e.g. 192 x 4 then 96 x 8).
class KSpec {
 public:
  KSpec() = default;  // 1/8 of the width
  static KSpec count(int64_t k);
  static KSpec fraction(double f);  // K = round(f * D)
  static KSpec per_block(std::vector<int64_t> ks);
  // "96" (count), "0.125" or "1/8" (fraction), "192,192,96" or "192x4,96x8" (per block).
  static KSpec parse(const std::string& text);

  // K of the `position`-th of `num_blocks` selected blocks; throws unless 1 <= K <= width.
  int64_t resolve(size_t position, size_t num_blocks, int64_t width) const;
  std::string str() const;

 private:
  enum class Kind { Count, Fraction, PerBlock } kind_ = Kind::Fraction;
  int64_t count_ = 0;
  double fraction_ = 0.125;
  std::vector<int64_t> per_block_;
};

// The last `count` of `depth` blocks (paper Fig. 9: SCT in the last 6 of 12 blocks is close to all 12).
std::vector<int64_t> last_blocks(int64_t depth, int64_t count);
// "all", "last:N" or "i,j,..." -> ascending block indices in [0, depth); `what` names the spec in errors.
std::vector<int64_t> parse_blocks(const std::string& spec, int64_t depth, const std::string& what = "blocks");
// Which channels a selection keeps (channel_selector.h); parsed from and written as its name.
enum class ChannelStrategy { Salient, Insalient, Random, Dataset };
ChannelStrategy parse_channel_strategy(const std::string& name);  // throws sct::Error listing the names
const char* to_string(ChannelStrategy strategy);                   // "salient" | "insalient" | ...

}  // namespace sct
