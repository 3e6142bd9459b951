#include "sct/train/loss.h"

#include <ATen/ATen.h>

#include <string>

#include "sct/core/error.h"
#include "sct/core/shape.h"

namespace sct {

at::Tensor label_smoothing_cross_entropy(const at::Tensor& logits, const at::Tensor& target, double smoothing) {
  if (!(smoothing >= 0.0 && smoothing < 1.0))
    throw Error("label smoothing must be in [0, 1), got " + std::to_string(smoothing));
  if (logits.dim() != 2 || target.dim() != 1 || target.size(0) != logits.size(0))
    throw Error("loss expects logits (B, C) and targets (B), got " + shape_str(logits.sizes()) + " and " +
                shape_str(target.sizes()));
  const at::Tensor logp = logits.log_softmax(-1);                          // (B, C)
  const at::Tensor nll = -logp.gather(1, target.unsqueeze(1)).squeeze(1);  // (B)
  if (smoothing == 0.0) return nll.mean();
  const at::Tensor smooth = -logp.mean(-1);  // (B)
  return ((1.0 - smoothing) * nll + smoothing * smooth).mean();
}

}  // namespace sct
