// `sct bench`: inference and training-step throughput of a method on synthetic data, after warm-up.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/cuda.h>
#include <torch/optim/adamw.h>
#include <torch/version.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "sct/cli/commands.h"
#include "sct/cli/model_flags.h"
#include "sct/cli/method_flags.h"
#include "sct/peft/peft_method.h"
#include "sct/runtime/memory.h"

namespace sct::cli {
namespace {

struct BenchFlags {
  ModelFlags model;
  MethodFlags method;
  int64_t batch = 16, steps = 5, warmup = 1;
  bool json = false, recompute = false;
  std::string profile;  // Chrome trace of one inference and one training step, after the timed ones
};

// Seconds per call of `fn`, averaged over `steps` calls after `warmup` untimed ones.
template <typename Fn>
double time_per_call(const Fn& fn, int64_t warmup, int64_t steps, const c10::Device& device) {
  auto sync = [&] {
    if (device.is_cuda()) torch::cuda::synchronize(device.index());
  };
  for (int64_t i = 0; i < warmup; ++i) fn();
  sync();
  const auto start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < steps; ++i) fn();
  sync();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / double(steps);
}

void run_bench(BenchFlags flags) {
  if (flags.model.num_classes < 0) flags.model.num_classes = 100;
  BuiltModel built = build_model(flags.model, std::cerr);
  auto& model = *built.model;
  const std::unique_ptr<PeftMethod> method = make_peft_method(flags.method.config(std::cerr));
  MethodData md;  // no data: a method that learns from it prepares a stand-in of the same cost
  md.model = built.model;
  md.num_classes = model.num_classes();
  md.seed = flags.model.runtime.seed;
  method->prepare(md);
  method->attach(model);
  model.set_precision(built.precision);
  model.set_recompute(flags.recompute);
  const ParameterCount count = count_parameters(model);
  std::cerr << describe(count) << "\n";

  const auto opts = at::TensorOptions().device(built.device);
  const at::Tensor images = at::randn({flags.batch, 3, model.img_size(), model.img_size()}, opts);
  const at::Tensor labels = at::randint(model.num_classes(), {flags.batch}, opts.dtype(at::kLong));

  model.eval();
  const double infer_s = time_per_call(
      [&] {
        c10::InferenceMode guard;
        model.forward(images);
      },
      flags.warmup, flags.steps, built.device);

  model.train();
  std::vector<at::Tensor> trainable;
  for (const auto& p : model.parameters())
    if (p.requires_grad()) trainable.push_back(p);
  torch::optim::AdamW optimizer(trainable, torch::optim::AdamWOptions(1e-3));
  const double train_s = time_per_call(
      [&] {
        optimizer.zero_grad();
        at::cross_entropy_loss(model.forward(images), labels).backward();
        optimizer.step();
      },
      flags.warmup, flags.steps, built.device);
  if (!flags.profile.empty()) {
    torch::autograd::profiler::RecordProfile trace(flags.profile);
    {
      model.eval();
      c10::InferenceMode guard;
      model.forward(images);
      model.train();
    }
    optimizer.zero_grad();
    at::cross_entropy_loss(model.forward(images), labels).backward();
    optimizer.step();
  }

  const nlohmann::json j = {
      {"model", model.name()},
      {"method", method->name()},
      {"batch", flags.batch},
      {"steps", flags.steps},
      {"img_size", model.img_size()},
      {"device", built.device.str()},
      {"threads", at::get_num_threads()},
      {"precision", to_string(built.precision)},
      {"recompute", flags.recompute},
      {"cpu_bf16_isa", cpu_bf16_isa()},
      {"train_img_per_s", double(flags.batch) / train_s},
      {"infer_img_per_s", double(flags.batch) / infer_s},
      {"train_ms_per_step", train_s * 1e3},
      {"infer_ms_per_batch", infer_s * 1e3},
      {"peak_rss_mb", peak_rss_mb()},
      {"trainable_params", count.trainable},
      {"total_params", count.total},
      {"libtorch_version", TORCH_VERSION},
  };
  if (flags.json) {
    std::cout << j.dump() << "\n";
    return;
  }
  std::cout << std::fixed << std::setprecision(2) << model.name() << " method " << method->name() << ", batch "
            << flags.batch << ", " << at::get_num_threads() << " threads on " << built.device << ", "
            << to_string(built.precision) << "\n"
            << "  inference  " << j["infer_img_per_s"].get<double>() << " img/s (" << infer_s * 1e3 << " ms/batch)\n"
            << "  training   " << j["train_img_per_s"].get<double>() << " img/s (" << train_s * 1e3 << " ms/step)\n"
            << "  peak RSS   " << std::setprecision(0) << peak_rss_mb() << " MiB\n";
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto flags = std::make_shared<BenchFlags>();
  CLI::App* cmd = app.add_subcommand("bench", "time inference and a training step on synthetic data");
  flags->model.add_to(*cmd);
  flags->method.method = "linear";
  flags->method.add_to(*cmd, /*with_method=*/true, /*with_module=*/true);
  cmd->add_option("--batch", flags->batch, "images per step")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--steps", flags->steps, "timed steps")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--warmup", flags->warmup, "untimed steps first")->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_flag("--json", flags->json, "one line of JSON");
  cmd->add_option("--profile", flags->profile,
                  "write a Chrome trace (chrome://tracing) of one inference and one training step to this file");
  cmd->add_flag("--recompute", flags->recompute, "recompute each block's activations in backward (less memory)");
  cmd->callback([flags] { run_bench(*flags); });
}

}  // namespace sct::cli
