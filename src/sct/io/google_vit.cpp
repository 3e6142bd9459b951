#include "sct/io/google_vit.h"

#include <ATen/ATen.h>

#include "sct/core/error.h"

namespace sct {
namespace {

constexpr const char* kOptPrefix = "opt/target/";

std::string shape_text(const at::Tensor& t) {
  std::string s = "[";
  for (int64_t d = 0; d < t.dim(); ++d) s += (d ? ", " : "") + std::to_string(t.size(d));
  return s + "]";
}

// The layouts below permute and flatten by rank: an array of another rank is named here, before
// LibTorch fails on it with a message that names no array.
const at::Tensor& checked_rank(const at::Tensor& t, int64_t rank, const std::string& key, const char* layout) {
  if (rank > 0 && t.dim() != rank)
    throw Error("Google ViT checkpoint: array '" + key + "' has shape " + shape_text(t) + ", expected " +
                std::to_string(rank) + " dimensions " + layout);
  return t;
}

// Takes `key` out of `src`; throws if absent (used only once a block's presence is established).
at::Tensor take(TensorMap& src, const std::string& key, int64_t rank, const char* layout) {
  auto it = src.find(key);
  if (it == src.end()) throw Error("Google ViT checkpoint: missing array '" + key + "'");
  at::Tensor t = checked_rank(it->second, rank, key, layout);
  src.erase(it);
  return t;
}

void move_if_present(TensorMap& src, TensorMap& dst, const std::string& from, const std::string& to,
                     at::Tensor (*convert)(const at::Tensor&), int64_t rank = 0, const char* layout = "") {
  auto it = src.find(from);
  if (it == src.end()) return;
  dst[to] = convert(checked_rank(it->second, rank, from, layout)).contiguous();
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
  move_if_present(src, out, "embedding/kernel", "patch_embed.proj.weight", hwio_to_oihw, 4, "(height, width, in, out)");
  move_if_present(src, out, "embedding/bias", "patch_embed.proj.bias", same);
  move_if_present(src, out, "cls", "cls_token", same);
  move_if_present(src, out, "Transformer/posembed_input/pos_embedding", "pos_embed", same);
  move_if_present(src, out, "Transformer/encoder_norm/scale", "norm.weight", same);
  move_if_present(src, out, "Transformer/encoder_norm/bias", "norm.bias", same);
  move_if_present(src, out, "head/kernel", "head.weight", transposed, 2, "(width, classes)");
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
      const std::string key = mha + n + "/kernel";
      w.push_back(take(src, key, 3, "(width, heads, head dim)").flatten(1).t());
      bias.push_back(take(src, mha + n + "/bias", 2, "(heads, head dim)").reshape({-1}));
      if (!w.back().sizes().equals(w.front().sizes()) || bias.back().size(0) != w.back().size(0))
        throw Error("Google ViT checkpoint: array '" + key + "' or its bias does not match the query's shape " +
                    shape_text(w.front().t()));
    }
    out[b + "attn.qkv.weight"] = at::cat(w, 0).contiguous();
    out[b + "attn.qkv.bias"] = at::cat(bias, 0).contiguous();
    // out kernel is (H, hd, D): (D, H*hd) is the projection's weight.
    out[b + "attn.proj.weight"] =
        take(src, mha + "out/kernel", 3, "(heads, head dim, width)").permute({2, 0, 1}).flatten(1).contiguous();
    move_if_present(src, out, mha + "out/bias", b + "attn.proj.bias", same);
    move_if_present(src, out, p + "MlpBlock_3/Dense_0/kernel", b + "mlp.fc1.weight", transposed, 2, "(in, out)");
    move_if_present(src, out, p + "MlpBlock_3/Dense_0/bias", b + "mlp.fc1.bias", same);
    move_if_present(src, out, p + "MlpBlock_3/Dense_1/kernel", b + "mlp.fc2.weight", transposed, 2, "(in, out)");
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
