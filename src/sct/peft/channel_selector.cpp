#include "sct/peft/channel_selector.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>
#include <sstream>

#include "sct/core/error.h"
#include "sct/data/deterministic_random.h"
#include "sct/io/atomic_file.h"
#include "sct/model/block_hook.h"
#include "sct/peft/sct_adapter.h"

namespace sct {
namespace {

constexpr const char* kFormat = "sct-channel-selection";
constexpr int kFormatVersion = 1;

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

// Observer at one site: per image, the sum of squares over patch tokens of a D-wide channel slice.
class SquareSumHookImpl : public BlockHookImpl {
 public:
  SquareSumHookImpl(HookSite site, int64_t offset, int64_t width) : site_(site), offset_(offset), width_(width) {}
  uint32_t sites() const override { return site_bit(site_); }
  at::Tensor apply(HookSite, const at::Tensor&, at::Tensor output) override {
    if (pending.defined())
      throw Error("channel selection: a second forward before observe(labels) was called for the first");
    // Token 0 is CLS: CAIS measures patch tokens only. Squares and sums in float64 so that the running
    // sums over a whole training split keep their digits.
    const at::Tensor f = output.detach().narrow(1, 1, output.size(1) - 1).narrow(2, offset_, width_);
    pending = f.to(at::kDouble).square_().sum(1);  // (B, D)
    return output;
  }
  at::Tensor pending;  // (B, D) float64 between a forward and observe()

 private:
  HookSite site_;
  int64_t offset_, width_;
};

struct SiteChoice {
  std::string name;
  HookSite site;
  int64_t offset;  // in units of D: q at 0, v at 2 of the fused qkv output
};

SiteChoice site_for(const std::string& part, bool reference_mlp_site) {
  if (part == "attn") return {"norm2_input", HookSite::AttnResidual, 0};
  if (part == "mlp")
    return reference_mlp_site ? SiteChoice{"block_output", HookSite::BlockOutput, 0}
                              : SiteChoice{"mlp_output", HookSite::MlpBranch, 0};
  if (part == "q") return {"qkv_q", HookSite::Qkv, 0};
  return {"qkv_v", HookSite::Qkv, 2};
}

// BlockImpl can only detach every hook: detach all, then re-attach the others in their order.
void detach_hook(BlockImpl& block, const BlockHookImpl* hook) {
  std::vector<std::pair<std::string, std::shared_ptr<BlockHookImpl>>> keep;
  const auto children = block.named_children();
  for (const auto& name : block.hook_names()) {
    auto other = std::dynamic_pointer_cast<BlockHookImpl>(children[name]);
    if (other.get() != hook) keep.emplace_back(name, std::move(other));
  }
  block.detach_all();
  for (auto& [name, other] : keep) block.attach(name, other);
}

// K distinct channels of D, uniformly (partial Fisher-Yates), ascending; the same for a seed on every
// platform (deterministic_random.h).
std::vector<int64_t> random_channels(int64_t width, int64_t k, std::mt19937_64& rng) {
  std::vector<int64_t> all(static_cast<size_t>(width));
  std::iota(all.begin(), all.end(), 0);
  for (int64_t i = 0; i < k; ++i)
    std::swap(all[size_t(i)], all[size_t(i + int64_t(uniform_below(rng, uint64_t(width - i))))]);
  all.resize(static_cast<size_t>(k));
  std::sort(all.begin(), all.end());
  return all;
}

void check_strategy(const std::string& s) {
  if (s != "salient" && s != "insalient" && s != "random" && s != "dataset")
    throw Error("channel selection: unknown strategy '" + s + "'; known: salient, insalient, random, dataset");
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// KSpec

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

std::vector<int64_t> rank_channels(const at::Tensor& scores, int64_t k, const std::string& strategy) {
  check_strategy(strategy);
  if (strategy == "random") throw Error("rank_channels: the random strategy does not rank");
  const at::Tensor s = scores.detach().to(at::kCPU, at::kDouble).contiguous().view(-1);
  const int64_t d = s.numel();
  if (k < 1 || k > d) throw Error("cannot keep " + std::to_string(k) + " of " + std::to_string(d) + " channels");
  if (!at::isfinite(s).all().item<bool>()) throw Error("channel scores contain NaN or infinity");
  const double* v = s.data_ptr<double>();
  std::vector<int64_t> order(static_cast<size_t>(d));
  std::iota(order.begin(), order.end(), 0);
  // Stable: equal scores keep ascending channel order, so the lower index wins a tie.
  if (strategy == "insalient")
    std::stable_sort(order.begin(), order.end(), [v](int64_t a, int64_t b) { return v[a] < v[b]; });
  else
    std::stable_sort(order.begin(), order.end(), [v](int64_t a, int64_t b) { return v[a] > v[b]; });
  order.resize(static_cast<size_t>(k));
  std::sort(order.begin(), order.end());
  return order;
}

// ---------------------------------------------------------------------------------------------------
// Selection

const SelectionPart& Selection::part(const std::string& name) const {
  for (const auto& p : parts)
    if (p.name == name) return p;
  throw Error("selection (position '" + position + "') has no part '" + name + "'");
}

std::vector<std::vector<int64_t>> Selection::channels(size_t position_in_blocks) const {
  std::vector<std::vector<int64_t>> sets;
  for (const auto& p : parts) sets.push_back(p.indices.at(position_in_blocks));
  return sets;
}

nlohmann::json Selection::to_json() const {
  nlohmann::json j = {
      {"format", kFormat},
      {"version", kFormatVersion},
      {"backbone_name", backbone_name},
      {"backbone_sha256", backbone_sha256},
      {"dataset", dataset},
      {"position", position},
      {"strategy", strategy},
      {"reference_mlp_site", reference_mlp_site},
      {"seed", seed},
      {"width", width},
      {"depth", depth},
      {"num_classes", num_classes},
      {"num_images", num_images},
      {"class_counts", class_counts},
      {"blocks", blocks},
      {"k", k},
  };
  nlohmann::json parts_json = nlohmann::json::array();
  for (const auto& p : parts) {
    nlohmann::json pj = {{"name", p.name}, {"site", p.site}, {"indices", p.indices}};
    if (p.scores.defined()) {
      const at::Tensor s = p.scores.to(at::kCPU, at::kFloat).contiguous();
      nlohmann::json rows = nlohmann::json::array();
      for (int64_t l = 0; l < s.size(0); ++l) {
        const float* row = s.data_ptr<float>() + l * s.size(1);
        rows.push_back(std::vector<float>(row, row + s.size(1)));
      }
      pj["scores"] = std::move(rows);
    }
    parts_json.push_back(std::move(pj));
  }
  j["parts"] = std::move(parts_json);
  return j;
}

Selection Selection::from_json(const nlohmann::json& j) {
  auto require = [](bool ok, const std::string& msg) {
    if (!ok) throw Error("channel selection file: " + msg);
  };
  Selection s;
  try {
    require(j.value("format", "") == kFormat, std::string("not a '") + kFormat + "' document");
    require(j.at("version").get<int>() == kFormatVersion,
            "version " + j.at("version").dump() + ", this build reads " + std::to_string(kFormatVersion));
    s.backbone_name = j.at("backbone_name").get<std::string>();
    s.backbone_sha256 = j.at("backbone_sha256").get<std::string>();
    s.dataset = j.at("dataset").get<std::string>();
    s.position = j.at("position").get<std::string>();
    s.strategy = j.at("strategy").get<std::string>();
    s.reference_mlp_site = j.at("reference_mlp_site").get<bool>();
    s.seed = j.at("seed").get<uint64_t>();
    s.width = j.at("width").get<int64_t>();
    s.depth = j.at("depth").get<int64_t>();
    s.num_classes = j.at("num_classes").get<int64_t>();
    s.num_images = j.at("num_images").get<int64_t>();
    s.class_counts = j.at("class_counts").get<std::vector<int64_t>>();
    s.blocks = j.at("blocks").get<std::vector<int64_t>>();
    s.k = j.at("k").get<std::vector<int64_t>>();
    for (const auto& pj : j.at("parts")) {
      SelectionPart p;
      p.name = pj.at("name").get<std::string>();
      p.site = pj.at("site").get<std::string>();
      p.indices = pj.at("indices").get<std::vector<std::vector<int64_t>>>();
      if (pj.contains("scores")) {
        const auto rows = pj.at("scores").get<std::vector<std::vector<float>>>();
        require(rows.size() == s.blocks.size(), "part '" + p.name + "': one score row per block expected");
        p.scores = at::empty({int64_t(rows.size()), s.width}, at::kFloat);
        for (size_t l = 0; l < rows.size(); ++l) {
          require(int64_t(rows[l].size()) == s.width, "part '" + p.name + "': score rows must have width entries");
          std::copy(rows[l].begin(), rows[l].end(), p.scores.data_ptr<float>() + int64_t(l) * s.width);
        }
      }
      s.parts.push_back(std::move(p));
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("channel selection file: ") + e.what());
  }
  check_strategy(s.strategy);
  const std::vector<std::string> names = sct_parts(s.position);
  require(s.parts.size() == names.size(), "position '" + s.position + "' needs " + std::to_string(names.size()) +
                                              " parts, found " + std::to_string(s.parts.size()));
  require(s.k.size() == s.blocks.size(), "'k' and 'blocks' differ in length");
  for (size_t b = 0; b < s.blocks.size(); ++b)
    require(s.blocks[b] >= 0 && s.blocks[b] < s.depth && (b == 0 || s.blocks[b] > s.blocks[b - 1]),
            "'blocks' must be ascending block numbers in [0, depth)");
  for (size_t i = 0; i < names.size(); ++i) {
    const SelectionPart& p = s.parts[i];
    require(p.name == names[i], "part " + std::to_string(i) + " is '" + p.name + "', expected '" + names[i] + "'");
    require(p.indices.size() == s.blocks.size(), "part '" + p.name + "': one index list per block expected");
    for (size_t b = 0; b < p.indices.size(); ++b) {
      const auto& idx = p.indices[b];
      require(int64_t(idx.size()) == s.k[b], "part '" + p.name + "', block " + std::to_string(s.blocks[b]) + ": " +
                                                 std::to_string(idx.size()) +
                                                 " indices but K = " + std::to_string(s.k[b]));
      for (size_t t = 0; t < idx.size(); ++t)
        require(idx[t] >= 0 && idx[t] < s.width && (t == 0 || idx[t] > idx[t - 1]),
                "part '" + p.name + "', block " + std::to_string(s.blocks[b]) +
                    ": indices must be ascending channels in [0, width)");
    }
  }
  return s;
}

void Selection::save(const std::string& path) const {
  const std::string text = to_json().dump();
  write_file_atomically(path, [&](std::ostream& os) { os << text << "\n"; });
}

Selection Selection::load(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw Error("cannot open channel selection file '" + path + "'");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(f);
  } catch (const nlohmann::json::exception& e) {
    throw Error("channel selection file '" + path + "': " + e.what());
  }
  try {
    return from_json(j);
  } catch (const Error& e) {
    throw Error("'" + path + "': " + e.what());
  }
}

// ---------------------------------------------------------------------------------------------------
// ChannelSelector

struct ChannelSelector::Tap {
  int64_t block;
  std::shared_ptr<SquareSumHookImpl> hook;
  at::Tensor sums;  // (C, D) float64 on the model's device, defined after the first observe()
};

ChannelSelector::ChannelSelector(SelectionOptions options) : options_(std::move(options)) {
  sct_parts(options_.position);
  check_strategy(options_.strategy);
}

ChannelSelector::~ChannelSelector() {
  try {
    detach();
  } catch (...) {  // a destructor must not throw; the hooks then stay attached
  }
}

void ChannelSelector::attach(VisionTransformer model, int64_t num_classes) {
  if (model_) throw Error("channel selector is already attached to a model");
  if (num_classes < 1) throw Error("channel selection needs at least one class, got " + std::to_string(num_classes));
  const int64_t depth = model->depth(), width = model->config().width;
  blocks_ = options_.blocks;
  if (blocks_.empty()) {
    blocks_.resize(static_cast<size_t>(depth));
    std::iota(blocks_.begin(), blocks_.end(), 0);
  }
  for (size_t b = 0; b < blocks_.size(); ++b)
    if (blocks_[b] < 0 || blocks_[b] >= depth || (b > 0 && blocks_[b] <= blocks_[b - 1]))
      throw Error("selected blocks must be ascending block numbers in [0, " + std::to_string(depth) + ")");
  for (size_t b = 0; b < blocks_.size(); ++b) options_.k.resolve(b, blocks_.size(), width);  // fail early

  model_ = model;
  try {
    for (const auto& part : sct_parts(options_.position)) {
      const SiteChoice site = site_for(part, options_.reference_mlp_site);
      for (int64_t block : blocks_) {
        auto tap = std::make_unique<Tap>();
        tap->block = block;
        tap->hook = std::make_shared<SquareSumHookImpl>(site.site, site.offset * width, width);
        model->block(block).attach("cais_" + part, tap->hook);
        taps_.push_back(std::move(tap));
      }
    }
  } catch (...) {  // e.g. another selector's hooks on the same blocks: leave the model as it was
    detach();
    throw;
  }
  num_classes_ = num_classes;
  class_counts_.assign(static_cast<size_t>(num_classes), 0);
}

void ChannelSelector::observe_batch(const at::Tensor& images, const at::Tensor& labels) {
  if (!model_) throw Error("channel selector: observe_batch() before attach()");
  torch::NoGradGuard no_grad;
  // Eval: no drop path (reference §2); the caller's mode comes back afterwards, also on error.
  struct EvalMode {
    torch::nn::Module& m;
    bool was_training;
    explicit EvalMode(torch::nn::Module& module) : m(module), was_training(module.is_training()) { m.eval(); }
    ~EvalMode() { m.train(was_training); }
  } eval_mode(*model_);
  try {
    model_->forward_features(images.to(model_->pos_embed.device()));
  } catch (...) {
    discard_pending();
    throw;
  }
  observe(labels);
}

void ChannelSelector::discard_pending() {
  for (auto& tap : taps_) tap->hook->pending.reset();
}

void ChannelSelector::observe(const at::Tensor& labels) {
  if (!model_) throw Error("channel selector: observe() before attach()");
  // A batch that cannot be counted is dropped whole, so that the selector stays usable.
  auto reject = [this](const std::string& why) {
    discard_pending();
    throw Error("channel selection: " + why + "; the batch is not counted");
  };
  if (labels.dim() != 1 || !at::isIntegralType(labels.scalar_type(), /*includeBool=*/false))
    reject("labels must be a 1-D integer tensor");
  const at::Tensor cpu = labels.to(at::kCPU, at::kLong).contiguous();
  const int64_t batch = cpu.size(0);
  const int64_t* y = cpu.data_ptr<int64_t>();
  for (int64_t i = 0; i < batch; ++i)
    if (y[i] < 0 || y[i] >= num_classes_)
      reject("label " + std::to_string(y[i]) + " outside [0, " + std::to_string(num_classes_) + ")");
  for (const auto& tap : taps_) {
    const at::Tensor& p = tap->hook->pending;
    if (!p.defined()) reject("observe() without a forward through block " + std::to_string(tap->block));
    if (p.size(0) != batch)
      reject(std::to_string(batch) + " labels for a batch of " + std::to_string(p.size(0)) + " images");
  }
  for (auto& tap : taps_) {
    at::Tensor& p = tap->hook->pending;
    if (!tap->sums.defined()) tap->sums = at::zeros({num_classes_, p.size(1)}, p.options());
    tap->sums.index_add_(0, cpu.to(p.device()), p);  // (C, D) += per-image sums, by class
    p.reset();
  }
  for (int64_t i = 0; i < batch; ++i) ++class_counts_[size_t(y[i])];
}

int64_t ChannelSelector::state_bytes() const {
  int64_t bytes = 0;
  for (const auto& tap : taps_) {
    if (tap->sums.defined()) bytes += tap->sums.nbytes();
    if (tap->hook->pending.defined()) bytes += tap->hook->pending.nbytes();
  }
  return bytes;
}

void ChannelSelector::detach() {
  if (!model_) return;
  for (const auto& tap : taps_) detach_hook(model_->block(tap->block), tap->hook.get());
  taps_.clear();
  model_ = nullptr;
}

Selection ChannelSelector::finish() {
  if (!model_) throw Error("channel selector: finish() before attach()");
  for (const auto& tap : taps_)
    if (tap->hook->pending.defined())
      throw Error("channel selection: the last forward was not followed by observe(labels)");
  Selection sel;
  sel.position = options_.position;
  sel.strategy = options_.strategy;
  sel.reference_mlp_site = options_.reference_mlp_site;
  sel.seed = options_.seed;
  sel.width = model_->config().width;
  sel.depth = model_->depth();
  sel.num_classes = num_classes_;
  sel.class_counts = class_counts_;
  sel.num_images = std::accumulate(class_counts_.begin(), class_counts_.end(), int64_t{0});
  sel.blocks = blocks_;
  for (size_t b = 0; b < blocks_.size(); ++b) sel.k.push_back(options_.k.resolve(b, blocks_.size(), sel.width));
  if (sel.num_images == 0 && options_.strategy != "random")
    throw Error("channel selection: no images were observed; strategy '" + options_.strategy + "' needs data");

  // Z averages over the classes present in the data, as the reference (np.unique of the labels). A class
  // without images would add s_c = 0 to every channel: it would scale Z, never change the ranking.
  std::vector<int64_t> present;
  for (int64_t c = 0; c < num_classes_; ++c)
    if (class_counts_[size_t(c)] > 0) present.push_back(c);
  const at::Tensor present_t = at::tensor(present, at::kLong);

  std::mt19937_64 rng(options_.seed);
  const size_t L = blocks_.size();
  const std::vector<std::string> names = sct_parts(options_.position);
  for (size_t p = 0; p < names.size(); ++p) {
    SelectionPart part;
    part.name = names[p];
    part.site = site_for(names[p], options_.reference_mlp_site).name;
    std::vector<at::Tensor> rows;
    for (size_t l = 0; l < L; ++l) {
      const Tap& tap = *taps_[p * L + l];
      at::Tensor score;  // (D) float64
      if (tap.sums.defined()) {
        const at::Tensor sums = tap.sums.to(at::kCPU);               // (C, D) sums of squares
        score = options_.strategy == "dataset" ? sums.sum(0).sqrt()  // s[j]
                                               : sums.index_select(0, present_t).sqrt().mean(0);  // Z[j]
        rows.push_back(score);
      }
      part.indices.push_back(options_.strategy == "random" ? random_channels(sel.width, sel.k[l], rng)
                                                           : rank_channels(score, sel.k[l], options_.strategy));
    }
    if (!rows.empty()) part.scores = at::stack(rows).to(at::kFloat);  // (L, D)
    sel.parts.push_back(std::move(part));
  }
  detach();
  return sel;
}

Selection select_channels(VisionTransformer model, int64_t num_classes, const SelectionOptions& options,
                          const std::function<bool(at::Tensor& images, at::Tensor& labels)>& next_batch) {
  ChannelSelector selector(options);
  selector.attach(model, num_classes);
  at::Tensor images, labels;
  while (next_batch(images, labels)) selector.observe_batch(images, labels);
  return selector.finish();
}

}  // namespace sct
