// Everything a stopped run needs to continue as if it had never stopped, in one safetensors file
// written atomically (temporary file + rename) after every epoch:
//   param.<name>    every trainable parameter (requires_grad), timm / method names
//   buffer.<name>   every buffer of the model (e.g. an SCT module's channel indices)
//   optimizer       uint8: the optimizer's own archive (torch::optim::Optimizer::save), kept opaque
//                   so that its per-parameter state (AdamW's step, exp_avg, exp_avg_sq) round-trips
//                   through LibTorch's stable API whatever its internal keys are
//   rng.cpu         uint8: torch's default CPU generator state
//   rng.<device>    uint8: the default generator of the model's device, when it is not the CPU
//                   (drop path draws there)
// and in the metadata: format, epochs_done, device, config (JSON), metrics (JSON).
#pragma once
#include <torch/optim/optimizer.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "sct/model/backbone.h"

namespace sct {

struct TrainStateInfo {
  int64_t epochs_done = 0;
  nlohmann::json config;
  nlohmann::json metrics;
};

void save_train_state(const std::string& path, BackboneImpl& model, const torch::optim::Optimizer& optimizer,
                      const TrainStateInfo& info);

// Reads only what the file says about the run (no model needed).
TrainStateInfo read_train_state_info(const std::string& path);

// Restores tensors, optimizer state and generators into `model` / `optimizer` (built the same way as
// when the state was saved). Strict: the trainable parameters and buffers must be exactly those of
// the file, with the same shapes. Throws sct::Error naming the file and tensor.
TrainStateInfo load_train_state(const std::string& path, BackboneImpl& model,
                                torch::optim::Optimizer& optimizer);

}  // namespace sct
