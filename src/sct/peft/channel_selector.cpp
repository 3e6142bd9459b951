#include "sct/peft/channel_selector.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "sct/core/deterministic_random.h"
#include "sct/core/error.h"
#include "sct/model/block_hook.h"
#include "sct/parallel/process_group.h"
#include "sct/peft/sct_adapter.h"

namespace sct {
namespace {

// Observer at one site: per image, the sum of squares over patch tokens of a D-wide channel slice.
class SquareSumHookImpl : public BlockHookImpl {
 public:
  SquareSumHookImpl(HookSite site, int64_t offset, int64_t width, int64_t prefix_tokens)
      : site_(site), offset_(offset), width_(width), prefix_(prefix_tokens) {}
  uint32_t sites() const override { return site_bit(site_); }
  at::Tensor apply(HookSite, const at::Tensor&, at::Tensor output) override {
    if (pending.defined())
      throw Error("channel selection: a second forward before observe(labels) was called for the first");
    // CAIS measures the image's own tokens: a ViT's class token is left out. Squares and sums in
    // float64 so that the running sums over a whole training split keep their digits.
    const at::Tensor f = output.detach().narrow(1, prefix_, output.size(1) - prefix_).narrow(2, offset_, width_);
    pending = f.to(at::kDouble).square_().sum(1);  // (B, D)
    return output;
  }
  int64_t width() const { return width_; }
  at::Tensor pending;  // (B, D) float64 between a forward and observe()

 private:
  HookSite site_;
  int64_t offset_, width_, prefix_;
};

// Channels are ranked where the module will act (sct_part_site), except that the reference ranks the
// mlp part on the block output.
SctPartSite site_for(const std::string& part, bool reference_mlp_site) {
  if (part == "mlp" && reference_mlp_site) return {HookSite::BlockOutput, 0, "block_output"};
  return sct_part_site(part);
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


}  // namespace

std::vector<int64_t> rank_channels(const at::Tensor& scores, int64_t k, ChannelStrategy strategy) {
  if (strategy == ChannelStrategy::Random) throw Error("rank_channels: the random strategy does not rank");
  const at::Tensor s = scores.detach().to(at::kCPU, at::kDouble).contiguous().view(-1);
  const int64_t d = s.numel();
  if (k < 1 || k > d) throw Error("cannot keep " + std::to_string(k) + " of " + std::to_string(d) + " channels");
  if (!at::isfinite(s).all().item<bool>()) throw Error("channel scores contain NaN or infinity");
  const double* v = s.data_ptr<double>();
  std::vector<int64_t> order(static_cast<size_t>(d));
  std::iota(order.begin(), order.end(), 0);
  // Stable: equal scores keep ascending channel order, so the lower index wins a tie.
  if (strategy == ChannelStrategy::Insalient)
    std::stable_sort(order.begin(), order.end(), [v](int64_t a, int64_t b) { return v[a] < v[b]; });
  else
    std::stable_sort(order.begin(), order.end(), [v](int64_t a, int64_t b) { return v[a] > v[b]; });
  order.resize(static_cast<size_t>(k));
  std::sort(order.begin(), order.end());
  return order;
}

// ---------------------------------------------------------------------------------------------------
// ChannelSelector

struct ChannelSelector::Tap {
  int64_t block;
  std::string name;
  std::shared_ptr<SquareSumHookImpl> hook;
  at::Tensor sums;  // (C, D) float64 on the model's device, defined after the first observe()
};

ChannelSelector::ChannelSelector(SelectionOptions options) : options_(std::move(options)) {
}

ChannelSelector::~ChannelSelector() {
  try {
    detach();
  } catch (...) {  // a destructor must not throw; the hooks then stay attached
  }
}

void ChannelSelector::attach(Backbone model, int64_t num_classes) {
  if (model_) throw Error("channel selector is already attached to a model");
  if (num_classes < 1) throw Error("channel selection needs at least one class, got " + std::to_string(num_classes));
  const int64_t depth = model->depth();
  blocks_ = options_.blocks;
  if (blocks_.empty()) {
    blocks_.resize(static_cast<size_t>(depth));
    std::iota(blocks_.begin(), blocks_.end(), 0);
  }
  for (size_t b = 0; b < blocks_.size(); ++b)
    if (blocks_[b] < 0 || blocks_[b] >= depth || (b > 0 && blocks_[b] <= blocks_[b - 1]))
      throw Error("selected blocks must be ascending block numbers in [0, " + std::to_string(depth) + ")");
  widths_.clear();
  for (size_t b = 0; b < blocks_.size(); ++b) {
    widths_.push_back(model->block(blocks_[b]).width());
    options_.k.resolve(b, blocks_.size(), widths_.back());  // fail early
  }

  model_ = model;
  try {
    for (const auto& part : sct_parts(options_.position)) {
      const SctPartSite site = site_for(part, options_.reference_mlp_site);
      for (size_t b = 0; b < blocks_.size(); ++b) {
        const int64_t block = blocks_[b], width = widths_[b];
        auto tap = std::make_unique<Tap>();
        tap->block = block;
        tap->name = "cais_" + part;
        tap->hook = std::make_shared<SquareSumHookImpl>(site.site, site.offset * width, width, model->prefix_tokens());
        model->block(block).attach(tap->name, tap->hook);
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
    model_->forward_features(images.to(model_->device()));
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
  for (const auto& tap : taps_) model_->block(tap->block).detach(tap->name);
  taps_.clear();
  model_ = nullptr;
}

// Data-parallel ranks each observed their piece of the data: every rank scores the sums over all of
// it. One all-reduce of every tap's (C, D) sums and the class counts, in float64 (counts exact).
void ChannelSelector::reduce_across_ranks() {
  if (!parallel::active()) return;
  const at::TensorOptions f64 = at::TensorOptions().dtype(at::kDouble).device(model_->device());
  std::vector<at::Tensor> parts;
  for (auto& tap : taps_) {
    if (!tap->sums.defined()) tap->sums = at::zeros({num_classes_, tap->hook->width()}, f64);
    parts.push_back(tap->sums.flatten());
  }
  parts.push_back(at::tensor(class_counts_, at::kLong).to(f64));
  at::Tensor flat = at::cat(parts);
  parallel::all_reduce_sum(flat);
  int64_t pos = 0;
  for (auto& tap : taps_) {
    const int64_t n = tap->sums.numel();
    tap->sums = flat.narrow(0, pos, n).view_as(tap->sums).clone();
    pos += n;
  }
  const at::Tensor counts = flat.narrow(0, pos, num_classes_).to(at::kCPU);
  for (int64_t c = 0; c < num_classes_; ++c) class_counts_[size_t(c)] = std::llround(counts[c].item<double>());
}

Selection ChannelSelector::finish() {
  if (!model_) throw Error("channel selector: finish() before attach()");
  for (const auto& tap : taps_)
    if (tap->hook->pending.defined())
      throw Error("channel selection: the last forward was not followed by observe(labels)");
  reduce_across_ranks();
  Selection sel;
  sel.position = options_.position;
  sel.strategy = options_.strategy;
  sel.reference_mlp_site = options_.reference_mlp_site;
  sel.seed = options_.seed;
  sel.widths = widths_;
  sel.depth = model_->depth();
  sel.num_classes = num_classes_;
  sel.class_counts = class_counts_;
  sel.num_images = std::accumulate(class_counts_.begin(), class_counts_.end(), int64_t{0});
  sel.blocks = blocks_;
  for (size_t b = 0; b < blocks_.size(); ++b) sel.k.push_back(options_.k.resolve(b, blocks_.size(), sel.widths[b]));
  if (sel.num_images == 0 && options_.strategy != ChannelStrategy::Random)
    throw Error(std::string("channel selection: no images were observed; strategy '") + to_string(options_.strategy) +
                "' needs data");

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
    for (size_t l = 0; l < L; ++l) {
      const Tap& tap = *taps_[p * L + l];
      at::Tensor score;  // (D) float64
      if (tap.sums.defined()) {
        const at::Tensor sums = tap.sums.to(at::kCPU);               // (C, D) sums of squares
        score = options_.strategy == ChannelStrategy::Dataset ? sums.sum(0).sqrt()  // s[j]
                                               : sums.index_select(0, present_t).sqrt().mean(0);  // Z[j]
        part.scores.push_back(score.to(at::kFloat));
      }
      part.indices.push_back(options_.strategy == ChannelStrategy::Random ? random_channels(sel.widths[l], sel.k[l], rng)
                                                           : rank_channels(score, sel.k[l], options_.strategy));
    }
    sel.parts.push_back(std::move(part));
  }
  detach();
  return sel;
}

Selection select_channels(Backbone model, int64_t num_classes, const SelectionOptions& options,
                          const std::function<bool(at::Tensor& images, at::Tensor& labels)>& next_batch) {
  ChannelSelector selector(options);
  selector.attach(model, num_classes);
  at::Tensor images, labels;
  while (next_batch(images, labels)) selector.observe_batch(images, labels);
  return selector.finish();
}

}  // namespace sct
