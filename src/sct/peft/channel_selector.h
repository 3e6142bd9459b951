// Which channels SCT tunes: the class-aware importance score (CAIS; arXiv 2309.08513 §3, reference §2).
//
// One pass of the frozen pretrained backbone (eval: no drop path; no gradients; no augmentation, which is
// the caller's data) over the training split. At the selection site of each selected block, for class c
// and channel j:
//   s_c[j] = sqrt( sum over images of class c, sum over patch tokens (CLS excluded) of F[n, t, j]^2 )
//   Z[j]   = mean of s_c[j] over the classes that have at least one image (unweighted)
// and the K channels with the largest Z are kept, in ascending channel order. s_c is one L2 norm over
// everything of that class, not normalised by class size. Running per-class sums of squares give the
// same numbers in O(L * C * D) memory; the feature maps are never kept (the reference keeps them all).
//
// Selection site per SCT part (sct_adapter.h): attn -> the input of norm2 (the tensor the module changes);
// mlp -> the MLP branch output (the reference hooks the block output instead: reference_mlp_site);
// q, v -> the q and v slices of the fused qkv output, each ranked on its own (the reference's qkv mode).
// Strategies (paper ablations): salient (top K, "SC", default), insalient (bottom K, "IC"), random (K of
// D uniformly, seeded, "RC"), dataset (not class-aware: s[j] = sqrt(sum over all images and patch tokens
// of F^2), top K). Ties rank the lower channel index first.
// Glossary: L selected blocks, C classes, D width, K kept channels, B batch, N tokens.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "sct/model/backbone.h"
#include "sct/peft/selection.h"
#include "sct/peft/selection_spec.h"

namespace sct {

struct SelectionOptions {
  SctPosition position = SctPosition::Attn;  // the SCT module's position
  bool reference_mlp_site = false;   // mlp part: rank on the block output, as the public code does
  ChannelStrategy strategy = ChannelStrategy::Salient;
  KSpec k;
  std::vector<int64_t> blocks;  // blocks to adapt, ascending; empty = all
  uint64_t seed = 42;           // random strategy only
};

class ChannelSelector {
 public:
  explicit ChannelSelector(SelectionOptions options);
  ~ChannelSelector();  // detaches its hooks if finish() was not called
  ChannelSelector(const ChannelSelector&) = delete;
  ChannelSelector& operator=(const ChannelSelector&) = delete;

  // Adds observer hooks to the selected blocks of `model`: the frozen pretrained backbone, before any
  // PEFT module is attached (a module would change what is measured). Labels are in [0, num_classes).
  void attach(Backbone model, int64_t num_classes);

  // One batch of the training split: images (B, 3, S, S) float, labels (B) int64. Runs the model in eval
  // mode without gradients and accumulates.
  void observe_batch(const at::Tensor& images, const at::Tensor& labels);
  // For callers that run the forward themselves: call after each forward with that batch's labels.
  // Invalid labels throw and drop the batch.
  void observe(const at::Tensor& labels);

  // Bytes the accumulators hold: parts * L * C * D float64 (plus one (B, D) per hook between a forward
  // and observe()), whatever the number of images and tokens.
  int64_t state_bytes() const;

  // Ranks the channels, detaches the hooks and returns the selection. In a data-parallel group every
  // rank calls it: the sums of all ranks' images are scored (process_group.h).
  Selection finish();

 private:
  struct Tap;  // one observer hook and its sums
  void detach();
  void discard_pending();
  void reduce_across_ranks();

  SelectionOptions options_;
  Backbone model_{nullptr};
  std::vector<int64_t> widths_;  // of the selected blocks
  int64_t num_classes_ = 0;
  std::vector<int64_t> blocks_;
  std::vector<int64_t> class_counts_;
  std::vector<std::unique_ptr<Tap>> taps_;  // part-major: taps_[p * L + l]
};

// The whole pass: `next_batch(images, labels)` fills one batch and returns false when the split is done.
Selection select_channels(Backbone model, int64_t num_classes, const SelectionOptions& options,
                          const std::function<bool(at::Tensor& images, at::Tensor& labels)>& next_batch);

// The ranking step on its own: K channels of `scores` (D) for strategy salient / dataset (largest) or
// insalient (smallest), ties to the lower index, returned ascending.
std::vector<int64_t> rank_channels(const at::Tensor& scores, int64_t k, ChannelStrategy strategy);

}  // namespace sct
