#include "sct/peft/sct_adapter.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <cmath>

#include "sct/core/error.h"
#include "sct/model/column_linear.h"
#include "sct/model/init.h"

namespace sct {
namespace {

// True when `t` is the only handle on its memory, so that writing into it changes nobody else's tensor:
// one reference to the TensorImpl and one to the storage. A view made while autograd tracks views keeps
// its base alive (a second storage reference), which is private when only the view holds the base.
bool sole_owner(const at::Tensor& t) {
  if (t.use_count() != 1) return false;
  size_t holders = 1;
  if (t.is_view()) {
    if (t._base().use_count() != 1) return false;
    holders = 2;
  }
  return t.storage().use_count() == holders;
}

}  // namespace

void SctAdapterOptions::validate() const {
  if (scale && !std::isfinite(*scale)) throw Error("sct: scale must be a finite number");
  if (scale_on_x && !scale) throw Error("sct: scale_on_x needs a scale");
}

SctPartSite sct_part_site(const std::string& part) {
  if (part == "attn") return {HookSite::AttnResidual, 0, "norm2_input"};
  if (part == "mlp") return {HookSite::MlpBranch, 0, "mlp_output"};
  if (part == "q") return {HookSite::Qkv, 0, "qkv_q"};
  if (part == "v") return {HookSite::Qkv, 2, "qkv_v"};
  throw Error("sct: unknown part '" + part + "'; known: attn, mlp, q, v");
}

SctPosition parse_sct_position(const std::string& name) {
  for (SctPosition p : {SctPosition::Attn, SctPosition::Mlp, SctPosition::Both, SctPosition::Qkv})
    if (name == to_string(p)) return p;
  throw Error("sct: unknown position '" + name + "'; known: attn, mlp, both, qkv");
}

const char* to_string(SctPosition position) {
  switch (position) {
    case SctPosition::Attn:
      return "attn";
    case SctPosition::Mlp:
      return "mlp";
    case SctPosition::Both:
      return "both";
    case SctPosition::Qkv:
      return "qkv";
  }
  return "?";
}

std::vector<std::string> sct_parts(SctPosition position) {
  switch (position) {
    case SctPosition::Attn:
      return {"attn"};
    case SctPosition::Mlp:
      return {"mlp"};
    case SctPosition::Both:
      return {"attn", "mlp"};
    case SctPosition::Qkv:
      return {"q", "v"};
  }
  return {};
}

// ---------------------------------------------------------------------------------------------------
// SctLinear

SctLinearImpl::SctLinearImpl(const std::vector<int64_t>& idx, std::optional<double> scale_, bool scale_on_x_,
                             const at::TensorOptions& options)
    : scale(scale_), scale_on_x(scale_on_x_) {
  if (idx.empty()) throw Error("sct: a module needs at least one channel");
  for (size_t i = 0; i < idx.size(); ++i)
    if (idx[i] < 0 || (i > 0 && idx[i] <= idx[i - 1]))
      throw Error("sct: channel indices must be non-negative and strictly ascending (position " + std::to_string(i) +
                  " holds " + std::to_string(idx[i]) + ")");
  const auto dtype = c10::typeMetaToScalarType(options.dtype());
  if (!at::isFloatingType(dtype)) throw Error("sct: parameters need a floating-point dtype");
  const auto k = static_cast<int64_t>(idx.size());
  linear = register_module("linear", torch::nn::Linear(torch::nn::LinearOptions(k, k).bias(true)));
  linear->to(options.device(), dtype);
  indices = register_buffer("indices", at::tensor(idx, at::kLong).to(options.device()));
  reset_parameters();
}

void SctLinearImpl::reset_parameters() {
  torch::NoGradGuard no_grad;
  trunc_normal_(linear->weight, 0.02);
  linear->bias.zero_();
}

at::Tensor SctLinearImpl::forward(const at::Tensor& x, bool in_place) {
  // x + (W x + b), x + s (W x + b), or s x + W x + b (scale_on_x), on the K channels of every token.
  // Under bf16 autocast the GEMM is bf16 and the sum stays in the stream's dtype (fp32), as eager
  // PyTorch's x + linear(x) promotes it.
  const double s = scale.value_or(1.0);
  return linear_on_columns(x, indices, linear->weight, linear->bias, scale_on_x ? s : 1.0, scale_on_x ? 1.0 : s,
                           in_place);
}

void SctLinearImpl::to(torch::Device device, torch::Dtype dtype, bool non_blocking) {
  linear->to(device, dtype, non_blocking);
  indices.set_data(indices.to(device, /*non_blocking=*/non_blocking));
}

void SctLinearImpl::to(torch::Dtype dtype, bool non_blocking) { linear->to(dtype, non_blocking); }

// ---------------------------------------------------------------------------------------------------
// SctAdapter

SctAdapterImpl::SctAdapterImpl(int64_t width, const std::vector<std::vector<int64_t>>& channels,
                               const SctAdapterOptions& options, const at::TensorOptions& tensor_options)
    : options_(options) {
  options_.validate();
  const std::vector<std::string> names = sct_parts(options_.position);
  if (channels.size() != 1 && channels.size() != names.size())
    throw Error(std::string("sct: position '") + to_string(options_.position) + "' takes 1 or " + std::to_string(names.size()) +
                " channel sets, got " + std::to_string(channels.size()));
  for (size_t i = 0; i < names.size(); ++i) {
    std::vector<int64_t> idx = channels.size() == 1 ? channels[0] : channels[i];
    for (int64_t c : idx)
      if (c < 0 || c >= width)
        throw Error("sct: channel " + std::to_string(c) + " of part '" + names[i] + "' is outside [0, " +
                    std::to_string(width) + ")");
    const SctPartSite where = sct_part_site(names[i]);
    for (int64_t& c : idx) c += where.offset * width;  // q, k, v: consecutive D-wide slices of qkv
    SctLinear linear(idx, options_.scale, options_.scale_on_x, tensor_options);
    parts_.push_back({names[i], where.site, register_module(names[i], linear)});
  }
}

void SctAdapterImpl::reset_parameters() {
  for (auto& p : parts_) p.linear->reset_parameters();
}

uint32_t SctAdapterImpl::sites() const {
  uint32_t mask = 0;
  for (const auto& p : parts_) mask |= site_bit(p.site);
  return mask;
}

at::Tensor SctAdapterImpl::apply(HookSite site, const at::Tensor&, at::Tensor output) {
  // Writing into `output` instead of a copy is right when nothing else holds its memory: then the block's
  // fresh residual stream or branch output is ours, and a step touches B*N*K values instead of copying
  // all B*N*W (under autograd too: backward needs only the selected channels' old values, which the op
  // keeps). A copy is made when an observer attached before this hook (e.g. a StreamRecorder) kept the
  // tensor: it must keep what it saw, and under autograd for a view (a 3-D linear's output is one of its
  // 2-D product), whose in-place history autograd would have to rebase.
  bool writable = sole_owner(output) && !(c10::GradMode::is_enabled() && output.is_view());
  // Parts at one site (q and v at qkv) have disjoint channels: one after the other, each reads its own
  // channels' old values. After the first, the tensor is the parts' own.
  for (auto& p : parts_) {
    if (p.site != site) continue;
    output = p.linear->forward(output, writable);
    writable = true;
  }
  return output;
}

}  // namespace sct
