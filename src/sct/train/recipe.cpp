#include "sct/train/recipe.h"

#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "sct/core/error.h"
#include "sct/core/json_error.h"
#include "sct/core/json_fields.h"
#include "sct/data/vtab_task.h"

namespace sct {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string executable_dir() {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return {};
  return fs::path(std::string(buf, static_cast<size_t>(n))).parent_path().string();
}

template <typename Recipe, typename Visit>
void visit_fields(Recipe& r, Visit&& visit) {
  visit("task", r.task);
  visit("group", r.group);
  visit("classes", r.classes);
  visit("lr", r.lr);
  visit("weight_decay", r.weight_decay);
  visit("label_smoothing", r.label_smoothing);
  visit("train_aug", r.train_aug);
  visit("scale", r.scale);
  visit("scaleonx", r.scale_on_x);  // the reference's name
  visit("reported_top1", r.reported_top1);
}

const auto kFields = [](auto& r, auto&& visit) { visit_fields(r, visit); };

// Every field is required: a recipe states the whole setting.
VtabRecipe parse_recipe(const json& j, const std::string& source) {
  VtabRecipe r;
  try {
    json_fields::require_all<VtabRecipe>(j, kFields, "recipe");
    r = json_fields::from_json(j, VtabRecipe{}, kFields, "recipe");
  } catch (const Error& e) {
    throw Error(source + ": " + e.what());
  }
  if (r.classes < 1 || r.lr < 0.0 || r.weight_decay < 0.0 || r.label_smoothing < 0.0 || r.label_smoothing >= 1.0)
    throw Error(source +
                ": recipe values out of range (classes >= 1, lr >= 0, weight_decay >= 0, "
                "label_smoothing in [0, 1))");
  return r;
}

VtabRecipe read_recipe_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error("cannot open recipe " + path);
  const json j = json::parse(in, refuse_huge_numbers, /*allow_exceptions=*/false);
  if (j.is_discarded()) throw Error(path + ": not valid JSON");
  return parse_recipe(j, path);
}

}  // namespace

void VtabRecipe::apply_to(TrainConfig& config) const {
  config.task = task;
  config.lr = lr;
  config.weight_decay = weight_decay;
  config.label_smoothing = label_smoothing;
  config.train_aug = train_aug;
}

nlohmann::json VtabRecipe::method_option(const std::string& key) const {
  if (key == "scale") return scale;
  if (key == "scale_on_x") return scale_on_x;
  throw Error("the task recipe of " + task + " has no method option '" + key + "' (it has scale and scale_on_x)");
}

std::vector<std::string> default_config_dirs(const std::string& kind) {
  std::vector<std::string> dirs;
  if (const char* env = std::getenv("SCT_CONFIG_DIR"); env && *env) dirs.push_back((fs::path(env) / kind).string());
  dirs.push_back((fs::path("configs") / kind).string());
  if (const std::string exe = executable_dir(); !exe.empty()) {
    dirs.push_back((fs::path(exe) / "configs" / kind).string());
    dirs.push_back((fs::path(exe).parent_path() / "configs" / kind).string());
  }
  return dirs;
}

VtabRecipe load_recipe(const std::string& task_or_path, const std::vector<std::string>& dirs) {
  if (fs::path(task_or_path).extension() == ".json") return read_recipe_file(task_or_path);
  const std::string task = find_vtab_task(task_or_path).name;  // resolves aliases; throws for unknown names
  std::string searched;
  for (const std::string& dir : dirs) {
    const fs::path file = fs::path(dir) / (task + ".json");
    if (!fs::is_regular_file(file)) {
      searched += "\n  " + file.string();
      continue;
    }
    VtabRecipe r = read_recipe_file(file.string());
    if (r.task != task) throw Error(file.string() + ": holds the recipe of '" + r.task + "', not '" + task + "'");
    return r;
  }
  throw Error("no recipe for task '" + task + "'; looked for:" + searched +
              "\n(set SCT_CONFIG_DIR to the configs folder)");
}

}  // namespace sct
