#include "sct/cli/sct_flags.h"

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <ostream>
#include <sstream>

#include "sct/core/error.h"
#include "sct/train/progress.h"

namespace sct::cli {

std::vector<int64_t> parse_blocks(const std::string& spec, int64_t depth, const std::string& flag) {
  std::vector<int64_t> out;
  if (spec == "all") return last_blocks(depth, depth);
  if (spec.rfind("last:", 0) == 0) {
    try {
      return last_blocks(depth, std::stoll(spec.substr(5)));
    } catch (const std::logic_error&) {
      throw Error(flag + ": '" + spec + "' is not last:N");
    }
  }
  std::stringstream ss(spec);
  for (std::string item; std::getline(ss, item, ',');) {
    size_t used = 0;
    int64_t i = -1;
    try {
      i = std::stoll(item, &used);
    } catch (const std::logic_error&) {
    }
    if (used != item.size() || i < 0 || i >= depth)
      throw Error(flag + ": '" + item + "' is not a block in [0, " + std::to_string(depth) +
                  ") (use all, last:N or i,j,...)");
    if (!out.empty() && i <= out.back()) throw Error(flag + ": blocks must be listed in ascending order");
    out.push_back(i);
  }
  if (out.empty()) throw Error(flag + ": no blocks given");
  return out;
}

void SctFlags::add_to(CLI::App& cmd, bool with_scale) {
  cmd.add_option("--position", position, "where the SCT module acts: attn (before norm2), mlp, both, qkv")
      ->check(CLI::IsMember({"attn", "mlp", "both", "qkv"}))
      ->capture_default_str();
  cmd.add_option("--strategy", strategy,
                 "channels to tune: salient (top-K class-aware score), insalient, random, dataset (not class-aware)")
      ->check(CLI::IsMember({"salient", "insalient", "random", "dataset"}))
      ->capture_default_str();
  cmd.add_option("--k", k, "channels per block: a count (96), a fraction of the width (1/8), or per block (192x4,96x8)")
      ->capture_default_str();
  cmd.add_option("--blocks", blocks, "blocks to adapt: all, last:N or i,j,...")->capture_default_str();
  cmd.add_flag("--reference-mlp-site", reference_mlp_site,
               "position mlp: rank channels on the block output, as the public code does");
  cmd.add_option("--select-batch", select_batch, "batch size of the selection pass")->capture_default_str();
  if (!with_scale) return;
  cmd.add_option("--scale", scale, "module scale: none (released ViT code), recipe (the task recipe's), or a number")
      ->capture_default_str();
  cmd.add_flag("--scale-on-x", scale_on_x, "scale the selected channels instead of the module's output (Swin code)");
}

SelectionOptions SctFlags::selection_options(int64_t depth, uint64_t seed) const {
  SelectionOptions o;
  o.position = position;
  o.reference_mlp_site = reference_mlp_site;
  o.strategy = strategy;
  o.k = KSpec::parse(k);
  o.blocks = parse_blocks(blocks, depth);
  o.seed = seed;
  return o;
}

std::optional<double> SctFlags::resolved_scale(std::optional<double> recipe_scale) const {
  if (scale == "none") return std::nullopt;
  if (scale == "recipe") {
    if (!recipe_scale) throw Error("--scale recipe needs a task recipe (--recipe)");
    return recipe_scale;
  }
  try {
    size_t used = 0;
    const double s = std::stod(scale, &used);
    if (used == scale.size()) return s;
  } catch (const std::logic_error&) {
  }
  throw Error("--scale: '" + scale + "' is not none, recipe or a number");
}

Selection select_on(VisionTransformer model, const ImageCache& cache, int64_t num_classes,
                    const SelectionOptions& options, const Normalization& normalization, int64_t batch_size,
                    std::ostream& log) {
  const bool tty = stderr_is_tty();
  const auto start = std::chrono::steady_clock::now();
  const int64_t n = cache.num_images();
  int64_t begin = 0;
  const at::Device device = model->pos_embed.device();
  Selection s = select_channels(model, num_classes, options, [&](at::Tensor& images, at::Tensor& labels) {
    if (begin >= n) return false;
    const int64_t count = std::min(batch_size, n - begin);
    images = cache.normalized(normalization, begin, count).to(device);
    labels = cache.label_tensor(begin, count).to(device);
    begin += count;
    if (tty && begin > count) {
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      char line[160];
      std::snprintf(line, sizeof(line), "\rselect: %lld/%lld images, %.1f img/s, ETA %s   ",
                    static_cast<long long>(begin - count), static_cast<long long>(n), double(begin - count) / s,
                    format_duration(s / double(begin - count) * double(n - begin + count)).c_str());
      log << line << std::flush;
    }
    return true;
  });
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  log << (tty ? "\r" : "") << "select: " << s.strategy << " channels at position " << s.position << " from " << n
      << " images in " << format_duration(seconds) << "; K per block " << options.k.str() << " over " << s.blocks.size()
      << " blocks                \n";
  return s;
}

}  // namespace sct::cli
