#include "sct/io/google_vit.h"

#include <ATen/ATen.h>

#include "sct/core/error.h"

namespace sct {
namespace {

constexpr const char* kOptPrefix = "opt/target/";

// Takes `key` out of `src`; throws if absent (used only once a block's presence is established).
at::Tensor take(TensorMap& src, const std::string& key) {
  auto it = src.find(key);
  if (it == src.end()) throw Error("Google ViT checkpoint: missing array '" + key + "'");
  at::Tensor t = it->second;
  src.erase(it);
  return t;
}

void move_if_present(TensorMap& src, TensorMap& dst, const std::string& from, const std::string& to,
                     at::Tensor (*convert)(const at::Tensor&)) {
  auto it = src.find(from);
  if (it == src.end()) return;
  dst[to] = convert(it->second).contiguous();
  src.erase(it);
}

at::Tensor same(const at::Tensor& t) { return t; }
at::Tensor transposed(const at::Tensor& t) { return t.t(); }             // (in, out) -> (out, in)
at::Tensor hwio_to_oihw(const at::Tensor& t) { return t.permute({3, 2, 0, 1}); }

}  // namespace

TensorMap google_vit_to_timm(const TensorMap& npz, std::vector<std::string>* ignored) {
  TensorMap src;
  for (const auto& kv : npz) {
    const bool prefixed = kv.first.rfind(kOptPrefix, 0) == 0;
    src[prefixed ? kv.first.substr(std::string(kOptPrefix).size()) : kv.first] = kv.second;
  }
  TensorMap out;
  move_if_present(src, out, "embedding/kernel", "patch_embed.proj.weight", hwio_to_oihw);
  move_if_present(src, out, "embedding/bias", "patch_embed.proj.bias", same);
  move_if_present(src, out, "cls", "cls_token", same);
  move_if_present(src, out, "Transformer/posembed_input/pos_embedding", "pos_embed", same);
  move_if_present(src, out, "Transformer/encoder_norm/scale", "norm.weight", same);
  move_if_present(src, out, "Transformer/encoder_norm/bias", "norm.bias", same);
  move_if_present(src, out, "head/kernel", "head.weight", transposed);
  move_if_present(src, out, "head/bias", "head.bias", same);

  for (int i = 0;; ++i) {
    const std::string p = "Transformer/encoderblock_" + std::to_string(i) + "/";
    const std::string b = "blocks." + std::to_string(i) + ".";
    const std::string mha = p + "MultiHeadDotProductAttention_1/";
    if (!src.count(mha + "query/kernel")) break;
    move_if_present(src, out, p + "LayerNorm_0/scale", b + "norm1.weight", same);
    move_if_present(src, out, p + "LayerNorm_0/bias", b + "norm1.bias", same);
    move_if_present(src, out, p + "LayerNorm_2/scale", b + "norm2.weight", same);
    move_if_present(src, out, p + "LayerNorm_2/bias", b + "norm2.bias", same);
    // q, k, v kernels are (D, H, hd); timm's fused qkv weight stacks each flatten(1).T as rows.
    std::vector<at::Tensor> w, bias;
    for (const char* n : {"query", "key", "value"}) {
      w.push_back(take(src, mha + n + "/kernel").flatten(1).t());
      bias.push_back(take(src, mha + n + "/bias").reshape({-1}));
    }
    out[b + "attn.qkv.weight"] = at::cat(w, 0).contiguous();
    out[b + "attn.qkv.bias"] = at::cat(bias, 0).contiguous();
    // out kernel is (H, hd, D): (D, H*hd) is the projection's weight.
    out[b + "attn.proj.weight"] = take(src, mha + "out/kernel").permute({2, 0, 1}).flatten(1).contiguous();
    move_if_present(src, out, mha + "out/bias", b + "attn.proj.bias", same);
    move_if_present(src, out, p + "MlpBlock_3/Dense_0/kernel", b + "mlp.fc1.weight", transposed);
    move_if_present(src, out, p + "MlpBlock_3/Dense_0/bias", b + "mlp.fc1.bias", same);
    move_if_present(src, out, p + "MlpBlock_3/Dense_1/kernel", b + "mlp.fc2.weight", transposed);
    move_if_present(src, out, p + "MlpBlock_3/Dense_1/bias", b + "mlp.fc2.bias", same);
  }
  for (auto it = src.begin(); it != src.end();) {
    if (it->first.rfind("pre_logits/", 0) == 0) {
      if (ignored) ignored->push_back(it->first);
      it = src.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& kv : src) out[kv.first] = kv.second;  // unknown arrays: left for the strict check
  return out;
}

}  // namespace sct
