// The classification loss of the SCT reference: timm's LabelSmoothingCrossEntropy
// (timm/loss/cross_entropy.py), averaged over the batch:
//   loss_b = (1 - s) * (-log p_b[y_b]) + s * mean_k(-log p_b[k]),   p_b = softmax(logits_b)
// s = 0 is plain cross-entropy. (PyTorch's cross_entropy(label_smoothing = s) is the same quantity.)
// Shapes: B batch, C classes.
#pragma once
#include <ATen/core/Tensor.h>

namespace sct {

// logits (B, C) floating, target (B) int64 in [0, C); returns a scalar. Throws sct::Error for
// s outside [0, 1) or mismatched shapes.
at::Tensor label_smoothing_cross_entropy(const at::Tensor& logits, const at::Tensor& target, double smoothing);

}  // namespace sct
