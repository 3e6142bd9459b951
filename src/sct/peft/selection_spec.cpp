#include "sct/peft/selection_spec.h"

#include <charconv>
#include <cmath>
#include <numeric>
#include <sstream>
#include <stdexcept>

#include "sct/core/error.h"

namespace sct {
namespace {

int64_t parse_int(const std::string& s, const std::string& what) {
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) throw Error(what);
  return v;
}

double parse_double(const std::string& s, const std::string& what) {
  try {
    size_t used = 0;
    const double v = std::stod(s, &used);
    if (used == s.size()) return v;
  } catch (const std::exception&) {
  }
  throw Error(what);
}

}  // namespace

KSpec KSpec::count(int64_t k) {
  KSpec s;
  s.kind_ = Kind::Count;
  s.count_ = k;
  return s;
}

KSpec KSpec::fraction(double f) {
  if (!(f > 0.0 && f <= 1.0)) throw Error("K as a fraction of the width must be in (0, 1], got " + std::to_string(f));
  KSpec s;
  s.kind_ = Kind::Fraction;
  s.fraction_ = f;
  return s;
}

KSpec KSpec::per_block(std::vector<int64_t> ks) {
  if (ks.empty()) throw Error("per-block K list is empty");
  KSpec s;
  s.kind_ = Kind::PerBlock;
  s.per_block_ = std::move(ks);
  return s;
}

KSpec KSpec::parse(const std::string& text) {
  const std::string what = "cannot read K '" + text +
                           "': expected a count (96), a fraction (0.125 or 1/8) or per-block counts "
                           "(192,192,96 or 192x4,96x8)";
  if (text.find_first_of(",x") != std::string::npos) {
    std::vector<int64_t> ks;
    std::stringstream items(text);
    for (std::string item; std::getline(items, item, ',');) {
      const size_t x = item.find('x');
      const int64_t k = parse_int(item.substr(0, x), what);
      const int64_t times = x == std::string::npos ? 1 : parse_int(item.substr(x + 1), what);
      if (times < 1) throw Error(what);
      ks.insert(ks.end(), static_cast<size_t>(times), k);
    }
    return per_block(std::move(ks));
  }
  const size_t slash = text.find('/');
  if (slash != std::string::npos)
    return fraction(parse_double(text.substr(0, slash), what) / parse_double(text.substr(slash + 1), what));
  if (text.find('.') != std::string::npos) return fraction(parse_double(text, what));
  return count(parse_int(text, what));
}

int64_t KSpec::resolve(size_t position, size_t num_blocks, int64_t width) const {
  int64_t k = 0;
  switch (kind_) {
    case Kind::Count:
      k = count_;
      break;
    case Kind::Fraction:
      k = static_cast<int64_t>(std::llround(fraction_ * double(width)));
      break;
    case Kind::PerBlock:
      if (per_block_.size() != num_blocks)
        throw Error("K lists " + std::to_string(per_block_.size()) + " blocks but " + std::to_string(num_blocks) +
                    " blocks are selected");
      k = per_block_[position];
      break;
  }
  if (k < 1 || k > width)
    throw Error("K = " + std::to_string(k) + " (from '" + str() + "') is outside [1, " + std::to_string(width) + "]");
  return k;
}

std::string KSpec::str() const {
  std::ostringstream s;
  switch (kind_) {
    case Kind::Count:
      s << count_;
      break;
    case Kind::Fraction:
      s << fraction_;
      break;
    case Kind::PerBlock:
      for (size_t i = 0; i < per_block_.size(); ++i) s << (i ? "," : "") << per_block_[i];
      break;
  }
  return s.str();
}

std::vector<int64_t> last_blocks(int64_t depth, int64_t count) {
  if (count < 1 || count > depth)
    throw Error("cannot take the last " + std::to_string(count) + " of " + std::to_string(depth) + " blocks");
  std::vector<int64_t> b(static_cast<size_t>(count));
  std::iota(b.begin(), b.end(), depth - count);
  return b;
}

ChannelStrategy parse_channel_strategy(const std::string& name) {
  for (ChannelStrategy s :
       {ChannelStrategy::Salient, ChannelStrategy::Insalient, ChannelStrategy::Random, ChannelStrategy::Dataset})
    if (name == to_string(s)) return s;
  throw Error("channel selection: unknown strategy '" + name + "'; known: salient, insalient, random, dataset");
}

const char* to_string(ChannelStrategy strategy) {
  switch (strategy) {
    case ChannelStrategy::Salient:
      return "salient";
    case ChannelStrategy::Insalient:
      return "insalient";
    case ChannelStrategy::Random:
      return "random";
    case ChannelStrategy::Dataset:
      return "dataset";
  }
  return "?";
}

std::vector<int64_t> parse_blocks(const std::string& spec, int64_t depth, const std::string& what) {
  std::vector<int64_t> out;
  if (spec == "all") return last_blocks(depth, depth);
  if (spec.rfind("last:", 0) == 0) {
    try {
      return last_blocks(depth, std::stoll(spec.substr(5)));
    } catch (const std::logic_error&) {
      throw Error(what + ": '" + spec + "' is not last:N");
    }
  }
  std::stringstream ss(spec);
  for (std::string item; std::getline(ss, item, ',');) {
    size_t used = 0;
    int64_t i = -1;
    try {
      i = std::stoll(item, &used);
    } catch (const std::logic_error&) {
    }
    if (used != item.size() || i < 0 || i >= depth)
      throw Error(what + ": '" + item + "' is not a block in [0, " + std::to_string(depth) +
                  ") (use all, last:N or i,j,...)");
    if (!out.empty() && i <= out.back()) throw Error(what + ": blocks must be listed in ascending order");
    out.push_back(i);
  }
  if (out.empty()) throw Error(what + ": no blocks given");
  return out;
}

}  // namespace sct
