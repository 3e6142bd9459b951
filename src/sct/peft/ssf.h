// SSF (Lian et al. 2022): a learned per-channel scale and shift, y = y * scale + shift, at 74 sites of
// ViT-B as the SSF code places them: after norm1, qkv, the attention projection, norm2, fc1 and fc2 of
// every block (12 x 6), after the patch embedding and after the final norm (2, on the model).
// scale ~ N(1, 0.02^2), shift ~ N(0, 0.02^2). Tensors blocks.<i>.ssf.<site>.{scale,shift} and
// ssf.{patch_embed,norm}.{scale,shift}. Mergeable: each folds into the layer before it.
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <string>
#include <vector>

#include "sct/model/block_hook.h"

namespace sct {

class ScaleShiftImpl : public torch::nn::Module {
 public:
  ScaleShiftImpl(int64_t width, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& y) const { return y * scale + shift; }
  at::Tensor scale, shift;
};
TORCH_MODULE(ScaleShift);

class SsfImpl : public BlockHookImpl {
 public:
  struct Site {
    const char* name;
    HookSite site;
    int64_t width;
  };
  // The six sites of a block of width D (attached to every block), and the patch embedding's and the
  // final norm's (attached to the model once; a Swin's widths differ there).
  static std::vector<Site> block_sites(int64_t width, int64_t mlp_hidden);
  static std::vector<Site> model_sites(int64_t patch_embed_width, int64_t final_width);
  SsfImpl(const std::vector<Site>& sites, const at::TensorOptions& options);
  uint32_t sites() const override;
  at::Tensor apply(HookSite site, const at::Tensor& input, at::Tensor output) override;
  // Each scale-shift into the layer before it: weight rows (conv: output channels; LayerNorm: weight)
  // times scale, bias times scale plus shift.
  bool mergeable() const override { return true; }
  void merge_into(BlockImpl& block) override;
  void merge_into_model(BackboneImpl& model) override;

  // site name (norm1, qkv, proj, norm2, fc1, fc2; patch_embed, norm), the hook site, and its scale-shift.
  struct Part {
    std::string name;
    HookSite site;
    ScaleShift op;
  };
  std::vector<Part> parts;
};
TORCH_MODULE(Ssf);

}  // namespace sct
