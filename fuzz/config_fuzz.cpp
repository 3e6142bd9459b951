// Training configuration as users write it: a task recipe file, a method recipe file, a run's
// config.json, and a --set assignment -- the same bytes through each.
#include <nlohmann/json.hpp>

#include "fuzz_target.h"
#include "sct/train/method_recipe.h"
#include "sct/train/recipe.h"
#include "sct/train/train_config.h"

SCT_FUZZ_TARGET(config) {
  const std::string path = sct::fuzz::bytes_file("config", data, size, ".json");
  sct::fuzz::expect_sct_errors_only("config", [&] { sct::load_recipe(path, {}); });
  sct::fuzz::expect_sct_errors_only("config", [&] { sct::load_method_recipe(path, "sct"); });
  sct::fuzz::expect_sct_errors_only("config", [&] {
    const nlohmann::json j = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
    if (!j.is_discarded()) sct::TrainConfig::from_json(j);
  });
  sct::fuzz::expect_sct_errors_only("config", [&] {
    sct::TrainConfig config;
    sct::apply_override(config, std::string(reinterpret_cast<const char*>(data), size));
  });
  return 0;
}
