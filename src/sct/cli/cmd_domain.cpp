// `sct domain`: flags -> DomainSpec -> run_domain (run/domain_generalization.h); each training an
// `sct train` process, the shifted test sets scored in this one.
#include <CLI/CLI.hpp>
#include <iostream>

#include "sct/cli/commands.h"
#include "sct/cli/train_process.h"
#include "sct/core/error.h"
#include "sct/data/fashion_mnist_1k.h"
#include "sct/peft/peft_method.h"
#include "sct/run/domain_generalization.h"
#include "sct/run/few_shot.h"
#include "sct/runtime/device.h"
#include "sct/runtime/threads.h"

namespace sct::cli {
namespace {

struct DomainFlags {
  std::string methods = "sct,linear";
  std::string data, shift_data, device = "cpu";
  std::string recipe = "noah";
  int64_t shots = 16, shot_seed = 0;
  bool skip_bad_images = false;
  RunnerFlags runner;
  DomainSpec spec;
};

void run(DomainFlags flags, const std::vector<std::string>& extras) {
  DomainSpec& spec = flags.spec;
  spec.rows = method_rows(split_commas(flags.methods));
  spec.device = parse_device(flags.device);
  if (flags.data.empty()) {
    spec.source_name = std::string(kFashionMnist1kName) + " test";
    spec.train_args = {"--task", kFashionMnist1kName};
    spec.tests = fashion_mnist_shifted_tests();
  } else {
    if (flags.shift_data.empty())
      throw Error("--data trains on NOAH's few-shot ImageNet; --shift-data must name the domain-generalization "
                  "root (imagenetv2, imagenet-sketch, imagenet-adversarial, imagenet-rendition)");
    spec.source_name = "imagenet";
    spec.train_args = load_few_shot_recipe(flags.recipe).train_args(extras);
    for (const std::string& a : {std::string("--data"), flags.data, std::string("--shots"), std::to_string(flags.shots),
                                 std::string("--shot-seed"), std::to_string(flags.shot_seed)})
      spec.train_args.push_back(a);
    spec.tests = imagenet_shifted_tests(flags.shift_data, flags.skip_bad_images);
  }
  if (flags.skip_bad_images) spec.train_args.push_back("--skip-bad-images");
  for (const std::string& a : {std::string("--device"), flags.device}) spec.train_args.push_back(a);
  if (!spec.checkpoint.empty())
    for (const std::string& a : {std::string("--checkpoint"), spec.checkpoint}) spec.train_args.push_back(a);
  spec.train_args.insert(spec.train_args.end(), extras.begin(), extras.end());
  configure_threads(0);  // the shifted sets are scored here, after the runs, on every CPU
  flags.runner.run([&](ProcessRunner& runner) {
    const ExperimentReport report = run_domain(spec, runner, std::cerr);
    std::cout << report.table.markdown() << "(test top-1 %; trainable params exclude the head)\nwrote " << spec.out
              << "/domain.md, .csv, .json, .png\n";
  });
}

}  // namespace

void add_domain_command(CLI::App& app) {
  auto flags = std::make_shared<DomainFlags>();
  CLI::App* cmd = app.add_subcommand(
      "domain",
      "NOAH's domain generalisation: train each method on ImageNet-1K 16-shot, score ImageNet val, -V2, -Sketch, "
      "-A and -R (A and R on their 200 classes), in the paper's table layout. Without --data: train on "
      "fashion-mnist-1k, score its test set and shifted copies (inverted, sketch, rotated, noisy, low-res). "
      "Options not listed here go to every sct train. Examples:\n"
      "  sct domain --data data/few-shot/imagenet --shift-data data/domain-generalization --methods sct,lora "
      "--checkpoint ViT-B_16.npz --out runs/domain\n"
      "  sct domain --methods sct,linear,lora --model vit_pico_patch4_32 "
      "--checkpoint models/vit_pico_patch4_32_fractal.safetensors --epochs 30 --out runs/domain-fm");
  cmd->add_option("--methods", flags->methods, "comma-separated: " + peft_method_list())->capture_default_str();
  cmd->add_option("--data", flags->data, "NOAH's few-shot ImageNet root (data/few-shot/imagenet)");
  cmd->add_option("--shift-data", flags->shift_data, "NOAH's data/domain-generalization root");
  cmd->add_option("--shots", flags->shots, "ImageNet shots per class")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--shot-seed", flags->shot_seed, "ImageNet list seed")->capture_default_str();
  cmd->add_option("--recipe", flags->recipe, "ImageNet's training recipe (configs/fewshot)")->capture_default_str();
  cmd->add_option("--checkpoint", flags->spec.checkpoint, "the pretrained backbone (given to every sct train too)");
  cmd->add_option("--device", flags->device, "cpu, cuda, cuda:N (given to every sct train too)")->capture_default_str();
  cmd->add_flag("--skip-bad-images", flags->skip_bad_images, "leave out unreadable images, counted");
  cmd->add_option("--seeds", flags->spec.seeds, "training seeds per method (mean +- std)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--seed", flags->spec.seed, "first training seed")->capture_default_str();
  cmd->add_option("--batch", flags->spec.batch_size, "evaluation batch size")->capture_default_str()->check(CLI::PositiveNumber);
  flags->runner.add_to(*cmd);
  cmd->add_option("--out", flags->spec.out, "folder for the runs and domain.{md,csv,json,png}")->required();
  cmd->allow_extras();
  cmd->callback([flags, cmd] { run(*flags, cmd->remaining()); });
}

}  // namespace sct::cli
