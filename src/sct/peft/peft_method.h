// A parameter-efficient fine-tuning method: which backbone tensors train and which modules attach
// (through block hooks, block_hook.h). The task run, the trainer and the benchmark only see this
// interface; a method that learns something from data before it attaches (SCT's channel selection)
// does it in prepare().
#pragma once
#include <cstdint>
#include <iosfwd>
#include <map>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "sct/data/normalize.h"

#include "sct/model/parameter_count.h"
#include "sct/model/backbone.h"

namespace sct {

class ImageCache;

// What prepare() gets: the backbone and the task's training split.
struct MethodData {
  Backbone model{nullptr};   // the pretrained backbone, nothing attached, on its device
  const ImageCache* train = nullptr;  // null: no data (sct bench): prepare a stand-in of the same cost
  int64_t num_classes = 0;
  Normalization normalization;
  uint64_t seed = 42;
  int64_t batch_size = 32;  // of the pass over `train`
  // What prepare() records beside what it learns: the data's and the backbone's names.
  std::string dataset, backbone_name, backbone_sha256;
  std::ostream* log = nullptr;  // progress; none when null
};

class PeftMethod {
 public:
  virtual ~PeftMethod() = default;
  virtual std::string name() const = 0;
  // Whether prepare() has work to do before attach() (SCT without a selection: yes).
  virtual bool needs_data() const { return false; }
  // Learns from `data` what attach() needs. A method that needs nothing, or was built from a finished
  // preparation (a selection file), only checks that it suits `data`, warning on `data.log`.
  virtual void prepare(const MethodData& data) {}
  // Files that explain what prepare() learned, written into a run folder (SCT: selection.json and its
  // heatmap selection.png).
  virtual void write_outputs(const std::string& dir) const {}
  // Freezes the backbone tensors the method does not train and attaches its modules.
  // The classification head always trains.
  virtual void attach(BackboneImpl& model) = 0;
  // Everything that rebuilds the method's modules (not their trained values), {"name": ..., ...}:
  // what a task file stores in adapter_config.json.
  virtual nlohmann::json config() const = 0;
};

// Every method name: sct, linear (alias none), full, bias, lora, adapter, adaptformer, ssf, vpt.
std::vector<std::string> peft_method_names();
// "sct, linear, ..." and, for help texts, every method's options with their defaults
// ("lora: rank=8 alpha=8; ..."), both from the registry.
std::string peft_method_list();
// Whether method `name` (any registry name, or "none") has option `option`. Throws for an unknown method.
bool peft_method_has_option(const std::string& name, const std::string& option);
std::string peft_method_options_help();
// A method from its config() ({"name": ..., options}); options left out take their defaults
// (peft_method_options_help()). Unknown names or options, or options of the wrong type, throw
// sct::Error. sct without a "selection" is built unprepared: prepare() selects its channels.
std::unique_ptr<PeftMethod> make_peft_method(const nlohmann::json& config);
std::unique_ptr<PeftMethod> make_peft_method(const std::string& name);
// Which variant of its paper a method config builds, for tables ("W_q and W_v, separate, as Hu et
// al." for lora); "" where the method has one. Throws as make_peft_method.
std::string peft_method_variant(const nlohmann::json& config);
// `config` with the defaults its method takes on a backbone of `arch` (a backbone config's) and a task with
// or without a recipe, where the user set none (sct on a Swin: with_paper_scale()); unchanged for the
// others. Throws as make_peft_method.
nlohmann::json with_backbone_defaults(const nlohmann::json& config, const std::string& arch, bool task_has_recipe);
inline std::unique_ptr<PeftMethod> make_peft_method(const char* name) { return make_peft_method(std::string(name)); }
// {"name": name} plus "key=value" options (values parsed as JSON where they are, else strings).
nlohmann::json method_config(const std::string& name, const std::vector<std::string>& options);
// `config` with numeric options set (TrainConfig::method_options, a tune grid point); whole numbers
// become integers, so that {"length": 50.0} builds vpt's integer option.
nlohmann::json with_method_options(nlohmann::json config, const std::map<std::string, double>& options);

}  // namespace sct
