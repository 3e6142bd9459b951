// Activation recomputation (gradient checkpointing) for one step of a model: keep only the step's input
// for backward and run the step again there, with gradients, to backpropagate through it.
//
// For a ViT block that trades its ~18-36 bytes x N x D of kept activations (docs/memory.md) for its
// 4-byte fp32 input and one more forward of the block in backward (about a third more compute), so that
// larger batches fit. The random draws of the step (drop path, dropout) are replayed exactly: the
// device's generator state is saved before the forward and restored for the recompute. The autocast
// state of the forward is restored too, so the recompute computes in the same precision.
#pragma once
#include <ATen/core/Tensor.h>

#include <functional>

namespace sct {

// Returns step(x). When autograd records (grad mode on, x requiring grad), keeps nothing of the step but
// x; the step's own trainable tensors get their gradients when backward reaches it.
at::Tensor recompute_in_backward(const at::Tensor& x, std::function<at::Tensor(const at::Tensor&)> step);

}  // namespace sct
