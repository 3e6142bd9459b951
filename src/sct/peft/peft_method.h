// A parameter-efficient fine-tuning method: which backbone tensors train and which modules attach
// (through block hooks, block_hook.h). The trainer and the benchmark only see this interface.
#pragma once
#include <map>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "sct/model/vision_transformer.h"

namespace sct {

class PeftMethod {
 public:
  virtual ~PeftMethod() = default;
  virtual std::string name() const = 0;
  // Freezes the backbone tensors the method does not train and attaches its modules.
  // The classification head always trains.
  virtual void attach(VisionTransformerImpl& model) = 0;
  // Everything that rebuilds the method's modules (not their trained values), {"name": ..., ...}:
  // what a task file stores in adapter_config.json.
  virtual nlohmann::json config() const = 0;
};

// Every method name: sct, linear (alias none), full, bias, lora, adapter, adaptformer, ssf, vpt.
std::vector<std::string> peft_method_names();
// A method from its config() ({"name": ..., options}); options left out take their defaults
// (lora rank 8 alpha 8; adapter bottleneck 8 placement mlp; adaptformer bottleneck 64 scale 0.1 dropout 0.1;
// vpt length 10). Unknown names or options throw sct::Error. sct needs its "selection" (made from data).
std::unique_ptr<PeftMethod> make_peft_method(const nlohmann::json& config);
std::unique_ptr<PeftMethod> make_peft_method(const std::string& name);
inline std::unique_ptr<PeftMethod> make_peft_method(const char* name) { return make_peft_method(std::string(name)); }
// {"name": name} plus "key=value" options (values parsed as JSON where they are, else strings).
nlohmann::json method_config(const std::string& name, const std::vector<std::string>& options);
// `config` with numeric options set (TrainConfig::method_options, a tune grid point); whole numbers
// become integers, so that {"length": 50.0} builds vpt's integer option.
nlohmann::json with_method_options(nlohmann::json config, const std::map<std::string, double>& options);

// Sets requires_grad on every parameter: true for the head, false for the rest.
void freeze_all_but_head(VisionTransformerImpl& model);

struct ParameterCount {
  int64_t trainable = 0;       // everything with requires_grad, head included
  int64_t trainable_head = 0;  // of which the head
  int64_t total = 0;
};
ParameterCount count_parameters(VisionTransformerImpl& model);
// PEFT-style: "trainable params: 111,744 (+ head 76,900) || all params: ... || trainable%: 0.2202"
std::string describe(const ParameterCount& count);

}  // namespace sct
