// The one mechanism through which PEFT methods and observers (the channel selector, feature
// extraction) attach to a transformer block, or to the model around the blocks, without editing it.
//
// A block calls its hooks at fixed sites, the model its own at the two model-level sites. At each site a
// hook receives what the site's operation consumed (`input`) and produced (`output`) and returns the
// tensor that replaces `output`.
// Observers return `output` unchanged.
#pragma once
#include <torch/nn/module.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "sct/core/error.h"

namespace sct {

enum class HookSite : int {
  BlockInput,    // input: x,                      output: x                 (B, N, D)
  Norm1,         // input: x,                      output: norm1(x)          (B, N, D)
  Qkv,           // input: norm1(x),               output: qkv               (B, N, 3D)
  AttnProj,      // input: attention context,      output: proj(context)     (B, N, D)
  AttnBranch,    // input: x,                      output: attn(norm1(x))    (B, N, D)
  AttnResidual,  // input: x,                      output: x + attn branch   (B, N, D), input of norm2
  Norm2,         // input: x',                     output: norm2(x')         (B, N, D)
  Fc1,           // input: norm2(x'),              output: fc1(.)            (B, N, hidden)
  Fc2,           // input: gelu(fc1),              output: fc2(.)            (B, N, D)
  MlpBranch,     // input: x',                     output: mlp(norm2(x'))    (B, N, D)
  BlockOutput,   // input: x',                     output: x' + mlp branch   (B, N, D)
  // Model level (BackboneImpl::attach):
  PatchEmbed,    // input: images (B, 3, S, S),    output: patch tokens      (B, G*G, D), before CLS and pos_embed
  FinalNorm,     // input: x after the last block, output: norm(x)           (B, N, D)
  kCount
};

constexpr uint32_t site_bit(HookSite s) { return 1u << static_cast<int>(s); }

class BlockImpl;
class BackboneImpl;


class BlockHookImpl : public torch::nn::Module {
 public:
  // Bitmask of the sites this hook wants (site_bit(...) | ...).
  virtual uint32_t sites() const = 0;
  virtual at::Tensor apply(HookSite site, const at::Tensor& input, at::Tensor output) = 0;
  // False for a hook that changes the number of tokens inside a block (VPT's prompts): its images
  // cannot share a batch with other tasks' images in sct serve.
  virtual bool keeps_token_count() const { return true; }
  // Whether merge_into can fold the hook into `block`'s own weights, so that the block computes the
  // same without it (LoRA, SSF). Hooks that cannot (the default) are never asked to.
  virtual bool mergeable() const { return false; }
  virtual void merge_into(BlockImpl& block) {}
  // The same for a hook attached to the model itself: folds into the patch embedding or the final norm.
  virtual void merge_into_model(BackboneImpl& model) {}
};

// The hooks of one block, in attachment order, with a mask so that sites nobody uses cost nothing.
class HookChain {
 public:
  void add(std::shared_ptr<BlockHookImpl> hook) {
    mask_ |= hook->sites();
    hooks_.push_back(std::move(hook));
  }
  void clear() {
    hooks_.clear();
    mask_ = 0;
  }
  bool has(HookSite site) const { return mask_ & site_bit(site); }
  at::Tensor operator()(HookSite site, const at::Tensor& input, at::Tensor output) const {
    if (!has(site)) return output;
    for (const auto& h : hooks_)
      if (h->sites() & site_bit(site)) output = h->apply(site, input, std::move(output));
    return output;
  }

 private:
  std::vector<std::shared_ptr<BlockHookImpl>> hooks_;
  uint32_t mask_ = 0;
};

// The named hooks of one module (a block, or the model at its own sites): registered as its
// submodules, called in attachment order. BlockImpl and BackboneImpl both hold one.
class HookSet {
 public:
  // Registers `hook` as `owner`'s submodule `name`; it takes the owner's train/eval mode.
  void attach(torch::nn::Module& owner, const std::string& name, std::shared_ptr<BlockHookImpl> hook) {
    if (find(name) != names_.size())
      throw Error("a hook named '" + name + "' is already attached to this " + owner.name());
    owner.register_module(name, hook);
    hook->train(owner.is_training());  // a new module trains by default; it joins in the mode of what it joins
    hooks_.push_back(std::move(hook));
    names_.push_back(name);
    rebuild();
  }
  // Removes hook `name`; the others keep their order. Throws if there is none.
  void detach(torch::nn::Module& owner, const std::string& name) {
    const size_t i = checked(owner, name);
    owner.unregister_module(name);
    hooks_.erase(hooks_.begin() + std::ptrdiff_t(i));
    names_.erase(names_.begin() + std::ptrdiff_t(i));
    rebuild();
  }
  void detach_all(torch::nn::Module& owner) {
    for (const auto& n : names_) owner.unregister_module(n);
    hooks_.clear();
    names_.clear();
    chain_.clear();
  }
  const std::shared_ptr<BlockHookImpl>& hook(const torch::nn::Module& owner, const std::string& name) const {
    return hooks_[checked(owner, name)];
  }
  const std::vector<std::string>& names() const { return names_; }
  const HookChain& chain() const { return chain_; }

 private:
  size_t find(const std::string& name) const {
    size_t i = 0;
    while (i < names_.size() && names_[i] != name) ++i;
    return i;
  }
  size_t checked(const torch::nn::Module& owner, const std::string& name) const {
    const size_t i = find(name);
    if (i == names_.size()) throw Error("no hook named '" + name + "' is attached to this " + owner.name());
    return i;
  }
  void rebuild() {
    chain_.clear();
    for (const auto& h : hooks_) chain_.add(h);
  }

  std::vector<std::shared_ptr<BlockHookImpl>> hooks_;
  std::vector<std::string> names_;
  HookChain chain_;
};

}  // namespace sct
