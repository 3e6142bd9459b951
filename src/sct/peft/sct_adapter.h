// The Salient Channel Tuning module (SCTM; Zhao et al., arXiv 2309.08513, §3): in each adapted block, a
// Linear(K, K) reads K chosen channels I of a token tensor y and writes its result back onto them, for
// every token (CLS included), from the old values of all K channels:
//   y[:, :, I] = y[:, :, I] + (y[:, :, I] W^T + b)          unscaled (released ViT code, the default)
//   y[:, :, I] = y[:, :, I] + s (y[:, :, I] W^T + b)        scale s (the paper's "Scale", Swin code)
//   y[:, :, I] = s y[:, :, I] + y[:, :, I] W^T + b          scale s with scale_on_x (Swin code's scaleonx)
//
// Where it acts (`position`) and the parts it then has, each one SctLinear with its own channels:
//   attn  part "attn" at HookSite::AttnResidual: x + attn(norm1(x)), the input of norm2 (paper default)
//   mlp   part "mlp"  at HookSite::MlpBranch: mlp(norm2(x')) before its residual add
//   both  parts "attn" and "mlp" (paper Tab. 10: twice the parameters)
//   qkv   parts "q" and "v" at HookSite::Qkv: channels of q ([0, D) of the fused qkv output) and of v
//         ([2D, 3D)), each with its own K x K linear (reference code only)
// Tensors: blocks.<i>.sct.<part>.linear.{weight, bias} (K, K), (K), and the buffer
// blocks.<i>.sct.<part>.indices (K) int64, the channels of the hooked tensor (for v: 2D + j), so a
// saved module says where it acts and on which channels.
// Shapes: B batch, N tokens, D width, K selected channels, W width of the hooked tensor (D, or 3D at qkv).
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sct/model/block_hook.h"

namespace sct {

// Where the module acts (above); parsed from and written as its name.
enum class SctPosition { Attn, Mlp, Both, Qkv };
SctPosition parse_sct_position(const std::string& name);  // throws sct::Error listing the names
const char* to_string(SctPosition position);              // "attn" | "mlp" | "both" | "qkv"

struct SctAdapterOptions {
  SctPosition position = SctPosition::Attn;
  std::optional<double> scale;    // unset: unscaled, as the released ViT code
  bool scale_on_x = false;        // scale the selected channels instead of the linear's output; needs scale
  void validate() const;          // throws sct::Error
};

// The part names of a position, in order ("attn" -> {"attn"}, "qkv" -> {"q", "v"}, ...).
std::vector<std::string> sct_parts(SctPosition position);

// Where a part acts, the one table the adapter and the channel selector share: the hook site, the
// offset of the part's channels in the hooked tensor in widths (v: 2, its slice of the fused qkv
// output), and the site's name in selection files.
struct SctPartSite {
  HookSite site;
  int64_t offset;
  const char* name;  // norm2_input | mlp_output | qkv_q | qkv_v
};
SctPartSite sct_part_site(const std::string& part);

// One SCTM: a K x K linear on K channels of the last dimension.
class SctLinearImpl : public torch::nn::Module {
 public:
  // `indices`: strictly ascending channels of the hooked tensor; row r of the weight belongs to the
  // r-th of them. `options` places the parameters (device, floating dtype).
  SctLinearImpl(const std::vector<int64_t>& indices, std::optional<double> scale, bool scale_on_x,
                const at::TensorOptions& options = {});
  // Trunc-normal(0, 0.02^2) weight cut at +-2 (timm's trunc_normal_), zero bias: §3, not zero-initialised.
  void reset_parameters();

  // x (..., W) with the selected channels replaced by the module's output (column_linear.h); written
  // into x itself when `in_place` (the caller holds x's only reference).
  at::Tensor forward(const at::Tensor& x, bool in_place);

  // Floating-point conversions reach the linear only: the index buffer stays int64 whatever the model's
  // dtype (Module::to would otherwise convert every buffer).
  using torch::nn::Module::to;
  void to(torch::Device device, torch::Dtype dtype, bool non_blocking = false) override;
  void to(torch::Dtype dtype, bool non_blocking = false) override;

  torch::nn::Linear linear{nullptr};
  at::Tensor indices;  // (K) int64 buffer
  std::optional<double> scale;
  bool scale_on_x;
};
TORCH_MODULE(SctLinear);

// The block hook: the parts of one position, attached as BlockImpl::attach("sct", adapter).
class SctAdapterImpl : public BlockHookImpl {
 public:
  // `channels`: one ascending index set in [0, D) per part of the position (a single set serves every
  // part); for qkv the v set counts within v, the adapter adds the 2D offset.
  SctAdapterImpl(int64_t width, const std::vector<std::vector<int64_t>>& channels,
                 const SctAdapterOptions& options = {}, const at::TensorOptions& tensor_options = {});
  void reset_parameters();

  uint32_t sites() const override;
  at::Tensor apply(HookSite site, const at::Tensor& input, at::Tensor output) override;

  const SctAdapterOptions& options() const { return options_; }
  // The parts in sct_parts(position) order, with the site each one acts at.
  struct Part {
    std::string name;
    HookSite site;
    SctLinear linear;
  };
  const std::vector<Part>& parts() const { return parts_; }

 private:
  SctAdapterOptions options_;
  std::vector<Part> parts_;
};
TORCH_MODULE(SctAdapter);

}  // namespace sct
