#include "sct/peft/peft_method.h"

#include <cmath>
#include <functional>
#include <optional>
#include <nlohmann/json.hpp>

#include "sct/core/error.h"
#include "sct/core/json_error.h"
#include "sct/model/vision_transformer.h"
#include "sct/peft/adapter.h"
#include "sct/peft/adaptformer.h"
#include "sct/peft/bias_tuning.h"
#include "sct/peft/full_finetune.h"
#include "sct/peft/linear_probe.h"
#include "sct/peft/lora.h"
#include "sct/peft/per_block_method.h"
#include "sct/peft/sct_method.h"
#include "sct/peft/ssf.h"
#include "sct/peft/vpt.h"

namespace sct {

namespace {

using nlohmann::json;

// The methods that plug into the backbone, their options with defaults, and how each is built.
struct MethodSpec {
  const char* name;
  json defaults;
  std::function<std::unique_ptr<PeftMethod>(const json& config)> make;
  // Which variant of the method's paper a config builds, for tables; none where there is one.
  std::function<std::string(const json& config)> variant = nullptr;
  // The config with the defaults the method takes on this backbone and task, where they differ.
  std::function<json(json config, const std::string& arch, bool task_has_recipe)> backbone_defaults = nullptr;
};

// One hook per block, made from the block's width.
template <typename Hook>
std::unique_ptr<PeftMethod> per_block(const json& config, std::function<Hook(int64_t width, const at::TensorOptions&)> make) {
  return std::make_unique<PerBlockMethod>(config, [make](BackboneImpl& model, int64_t i, const at::TensorOptions& options) {
    return make(model.block(i).width(), options).ptr();
  });
}

const std::vector<MethodSpec>& registry() {
  static const std::vector<MethodSpec> specs = {
      {"sct", [] {
         json defaults = SctOptions{}.to_json();
         defaults["selection"] = nullptr;  // made by prepare(), or a file's
         return defaults;
       }(),
       [](const json& c) { return SctMethod::from_config(c); }, nullptr, with_paper_scale},
      {"linear", json::object(), [](const json&) { return std::make_unique<LinearProbe>(); }},
      {"full", json::object(), [](const json&) { return std::make_unique<FullFinetune>(); }},
      {"bias", json::object(), [](const json&) { return std::make_unique<BiasTuning>(); }},
      {"lora",
       {{"rank", 8}, {"alpha", 8.0}},
       [](const json& c) {
         const int64_t rank = c.at("rank").get<int64_t>();
         const double alpha = c.at("alpha").get<double>();
         return per_block<Lora>(
             c, [=](int64_t width, const at::TensorOptions& o) { return Lora(width, rank, alpha, o); });
       },
       [](const json&) { return std::string("W_q and W_v, separate, as Hu et al."); }},
      {"adapter",
       {{"bottleneck", 8}, {"placement", "mlp"}},
       [](const json& c) {
         const int64_t hidden = c.at("bottleneck").get<int64_t>();
         const std::string placement = c.at("placement").get<std::string>();
         return per_block<Adapter>(c, [=](int64_t width, const at::TensorOptions& o) {
           return Adapter(width, hidden, placement, o);
         });
       },
       [](const json& c) {
         return std::string(c.at("placement") == "both" ? "two per block, Houlsby" : "one per block after the MLP");
       }},
      {"adaptformer",
       {{"bottleneck", 64}, {"scale", 0.1}, {"dropout", 0.1}},
       [](const json& c) {
         const int64_t hidden = c.at("bottleneck").get<int64_t>();
         const double scale = c.at("scale").get<double>();
         const double dropout = c.at("dropout").get<double>();
         return per_block<AdaptFormer>(c, [=](int64_t width, const at::TensorOptions& o) {
           return AdaptFormer(width, hidden, scale, dropout, o);
         });
       }},
      {"ssf", json::object(),
       [](const json& c) {
         return std::make_unique<PerBlockMethod>(
             c,
             [](BackboneImpl& model, int64_t i, const at::TensorOptions& o) {
               return Ssf(SsfImpl::block_sites(model.block(i).width(), model.block(i).mlp_hidden()), o).ptr();
             },
             [](BackboneImpl& model, const at::TensorOptions& o) {
               return Ssf(SsfImpl::model_sites(model.site_width(HookSite::PatchEmbed), model.site_width(HookSite::FinalNorm)), o)
                   .ptr();
             });
       }},
      {"vpt",
       {{"length", 10}},
       [](const json& c) {
         const int64_t length = c.at("length").get<int64_t>();
         return std::make_unique<PerBlockMethod>(c, [=](BackboneImpl& model, int64_t, const at::TensorOptions& o) {
           auto* vit = dynamic_cast<VisionTransformerImpl*>(&model);
           if (!vit)
             throw Error("vpt: VPT-deep prepends prompts to a ViT's token sequence; on '" + model.name() +
                         "' (Swin) its prompts would have to join every window (Jia et al.'s Swin variant), which "
                         "sct does not implement");
           return Vpt(vit->config().width, vit->config().patch_size, length, o).ptr();
         });
       },
       [](const json&) { return std::string("VPT-deep"); }},
  };
  return specs;
}

// `value` for an option whose default is `fallback`: the same JSON type, or a number where a number is
// expected; a number given for a text option (k=96, blocks=11) becomes its text; a null default
// (sct's scale, selection) takes any value and leaves the check to the method.
std::optional<json> typed_option(const json& value, const json& fallback) {
  if (fallback.is_null() || value.type_name() == std::string(fallback.type_name()) ||
      (value.is_number() && fallback.is_number()))
    return value;
  if (fallback.is_string() && value.is_number()) return json(value.dump());
  return std::nullopt;
}

std::string option_list(const json& defaults, const char* separator, bool with_values) {
  std::string out;
  for (const auto& d : defaults.items()) {
    if (d.value().is_null() && with_values) continue;  // set by the method itself (sct's selection)
    out += (out.empty() ? "" : separator) + d.key();
    if (with_values) out += "=" + (d.value().is_string() ? d.value().get<std::string>() : d.value().dump());
  }
  return out;
}

// The registry entry of config's method and the config completed with its defaults, checked.
std::pair<const MethodSpec*, json> complete(const json& config) {
  std::string name = config.is_object() ? config.value("name", "") : "";
  if (name == "none") name = "linear";
  for (const auto& spec : registry()) {
    if (name != spec.name) continue;
    json full = spec.defaults;
    full["name"] = name;
    for (const auto& item : config.items()) {
      if (item.key() == "name") continue;
      if (!spec.defaults.contains(item.key())) {
        const std::string known = option_list(spec.defaults, ", ", false);
        throw Error("method " + name + " has no option '" + item.key() + "'" +
                    (known.empty() ? std::string(" (it takes none)") : "; its options: " + known));
      }
      const std::optional<json> value = typed_option(item.value(), spec.defaults.at(item.key()));
      if (!value)
        throw Error("method " + name + ": option '" + item.key() + "' must be a " +
                    spec.defaults.at(item.key()).type_name() + ", got " + item.value().dump());
      full[item.key()] = *value;
    }
    return {&spec, full};
  }
  throw Error("unknown method " + (name.empty() ? config.dump() : "'" + name + "'") + "; known: " + peft_method_list());
}

}  // namespace

std::vector<std::string> peft_method_names() {
  std::vector<std::string> names;
  for (const auto& spec : registry()) names.push_back(spec.name);
  return names;
}

std::string peft_method_list() {
  std::string names;
  for (const auto& spec : registry()) names += (names.empty() ? "" : ", ") + std::string(spec.name);
  return names;
}

std::string peft_method_options_help() {
  std::string out;
  for (const auto& spec : registry())
    if (!spec.defaults.empty())
      out += (out.empty() ? "" : "; ") + std::string(spec.name) + ": " + option_list(spec.defaults, " ", true);
  return out;
}

bool peft_method_has_option(const std::string& name, const std::string& option) {
  return complete(json{{"name", name}}).first->defaults.contains(option);
}

json with_backbone_defaults(const json& config, const std::string& arch, bool task_has_recipe) {
  const MethodSpec* spec = complete(config).first;
  return spec->backbone_defaults ? spec->backbone_defaults(config, arch, task_has_recipe) : config;
}

std::unique_ptr<PeftMethod> make_peft_method(const std::string& name) { return make_peft_method(json{{"name", name}}); }

std::unique_ptr<PeftMethod> make_peft_method(const json& config) {
  const auto [spec, full] = complete(config);
  try {
    return spec->make(full);
  } catch (const json::exception& e) {
    throw Error(std::string("method ") + spec->name + ": " + e.what());
  }
}

std::string peft_method_variant(const json& config) {
  const auto [spec, full] = complete(config);
  return spec->variant ? spec->variant(full) : "";
}

json method_config(const std::string& name, const std::vector<std::string>& options) {
  json config = {{"name", name}};
  for (const std::string& assignment : options) {
    const size_t eq = assignment.find('=');
    if (eq == std::string::npos || eq == 0) throw Error("method option '" + assignment + "' is not key=value");
    const std::string value = assignment.substr(eq + 1);
    json parsed = json::parse(value, refuse_huge_numbers, /*allow_exceptions=*/false);
    config[assignment.substr(0, eq)] = parsed.is_discarded() ? json(value) : parsed;
  }
  return config;
}

json with_method_options(json config, const std::map<std::string, double>& options) {
  for (const auto& [key, value] : options)
    config[key] = value == std::floor(value) && std::abs(value) < 1e15 ? json(int64_t(value)) : json(value);
  return config;
}

}  // namespace sct
