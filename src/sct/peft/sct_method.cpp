#include "sct/peft/sct_method.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <ostream>

#include "sct/core/error.h"
#include "sct/data/image_cache.h"
#include "sct/model/swin_transformer.h"
#include "sct/parallel/process_group.h"
#include "sct/peft/selection_heatmap.h"
#include "sct/core/progress.h"

namespace sct {

namespace {

SctAdapterOptions adapter_options(SctPosition position, std::optional<double> scale, bool scale_on_x) {
  SctAdapterOptions o;
  o.position = position;
  o.scale = scale;
  o.scale_on_x = scale_on_x;
  o.validate();
  return o;
}

// The CAIS pass over `data.train` in batches, with a progress line on a terminal.
Selection select_on(const MethodData& data, const SelectionOptions& options) {
  std::ostream* log = data.log;
  const bool tty = log && stderr_is_tty();
  const auto start = std::chrono::steady_clock::now();
  const int64_t n = data.train ? data.train->num_images() : 0;
  // Data-parallel ranks each take a piece; the selector sums them before scoring.
  const std::pair<int64_t, int64_t> piece = parallel::shard().range(n);
  const int64_t first = piece.first, end = piece.second;
  int64_t begin = first;
  const at::Device device = data.model->device();
  Selection s = select_channels(data.model, data.num_classes, options, [&](at::Tensor& images, at::Tensor& labels) {
    if (begin >= end) return false;
    const int64_t count = std::min(data.batch_size, end - begin);
    images = data.train->normalized(data.normalization, begin, count).to(device);
    labels = data.train->label_tensor(begin, count).to(device);
    begin += count;
    if (tty && begin - first > count) {
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      char line[160];
      const int64_t done = begin - count - first;
      std::snprintf(line, sizeof(line), "\rselect: %lld/%lld images, %.1f img/s, ETA %s   ",
                    static_cast<long long>(done), static_cast<long long>(end - first), double(done) / s,
                    format_duration(s / double(done) * double(end - first - done)).c_str());
      *log << line << std::flush;
    }
    return true;
  });
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (log && data.train)
    *log << (tty ? "\r" : "") << "select: " << to_string(s.strategy) << " channels at position " << to_string(s.position) << " from " << n
         << " images in " << format_duration(seconds) << "; K per block " << options.k.str() << " over "
         << s.blocks.size() << " blocks                \n";
  return s;
}

}  // namespace

std::vector<int64_t> sct_paper_blocks(const BackboneImpl& model) {
  const auto* swin = dynamic_cast<const SwinTransformerImpl*>(&model);
  if (!swin || swin->config().stages() != 4) return last_blocks(model.depth(), model.depth());
  const std::vector<int64_t>& d = swin->config().depths;
  return last_blocks(model.depth(), std::min<int64_t>(9, d[2]) + d[3]);
}

nlohmann::json with_paper_scale(nlohmann::json method, const std::string& arch, bool task_has_recipe) {
  if (method.value("name", "") != "sct" || arch != "swin" || !task_has_recipe || method.contains("scale")) return method;
  method["scale"] = "recipe";
  if (!method.contains("scale_on_x")) method["scale_on_x"] = "recipe";
  return method;
}

nlohmann::json SctOptions::to_json() const {
  return {{"k", k},
          {"position", to_string(position)},
          {"strategy", to_string(strategy)},
          {"blocks", blocks},
          {"reference_mlp_site", reference_mlp_site},
          {"scale", scale ? nlohmann::json(*scale) : nlohmann::json(nullptr)},
          {"scale_on_x", scale_on_x}};
}

bool SctOptions::same_selection_options(const SctOptions& o) const {
  return k == o.k && position == o.position && strategy == o.strategy && blocks == o.blocks &&
         reference_mlp_site == o.reference_mlp_site;
}

SctMethod::SctMethod(SctOptions options) : options_(std::move(options)) {
  adapter_options(options_.position, options_.scale, options_.scale_on_x);
  KSpec::parse(options_.k);
  if (options_.blocks != "paper")  // the syntax now, the range against the model's depth in prepare()
    parse_blocks(options_.blocks, int64_t(1) << 20, "sct option blocks");
}

SctMethod::SctMethod(Selection selection, std::optional<double> scale, bool scale_on_x) {
  options_.position = selection.position;
  options_.strategy = selection.strategy;
  options_.reference_mlp_site = selection.reference_mlp_site;
  options_.scale = scale;
  options_.scale_on_x = scale_on_x;
  adapter_options(options_.position, scale, scale_on_x);
  if (selection.parts.size() != sct_parts(options_.position).size())
    throw Error("sct: the selection holds " + std::to_string(selection.parts.size()) + " parts, position '" +
                to_string(options_.position) + "' needs " + std::to_string(sct_parts(options_.position).size()));
  selection_ = std::move(selection);
}

const Selection& SctMethod::selection() const {
  if (!selection_) throw Error("sct: no channels selected yet: prepare() the method on the task's training data");
  return *selection_;
}

void SctMethod::prepare(const MethodData& data) {
  if (selection_) {
    if (!data.backbone_sha256.empty() && !selection_->backbone_sha256.empty() &&
        selection_->backbone_sha256 != data.backbone_sha256 && data.log)
      *data.log << "warning: the channel selection was measured on another backbone ("
                << selection_->backbone_name << ", " << selection_->backbone_sha256 << ")\n";
  } else {
    if (data.batch_size < 1) throw Error("sct: the selection pass needs a batch size >= 1");
    SelectionOptions o;
    o.position = options_.position;
    o.reference_mlp_site = options_.reference_mlp_site;
    // Without data the channels cannot be ranked; a random set of the same K costs the same.
    o.strategy = data.train ? options_.strategy : ChannelStrategy::Random;
    o.k = KSpec::parse(options_.k);
    o.blocks = options_.blocks == "paper" ? sct_paper_blocks(*data.model)
                                          : parse_blocks(options_.blocks, data.model->depth(), "sct option blocks");
    o.seed = data.seed;
    selection_ = select_on(data, o);
    selection_->dataset = data.dataset;
  }
  if (!data.backbone_sha256.empty()) {
    selection_->backbone_name = data.backbone_name;
    selection_->backbone_sha256 = data.backbone_sha256;
  }
}

void SctMethod::attach(BackboneImpl& model) {
  const Selection& s = selection();
  std::vector<int64_t> widths;
  if (s.depth == model.depth())
    for (int64_t b : s.blocks) widths.push_back(model.block(b).width());
  if (widths != s.widths) {
    auto list = [](const std::vector<int64_t>& v) {
      std::string out;
      for (int64_t w : v) out += (out.empty() ? "" : ",") + std::to_string(w);
      return out;
    };
    throw Error("sct: the channel selection was made on a backbone of depth " + std::to_string(s.depth) +
                " with widths " + list(s.widths) + " at its selected blocks; the model '" + model.name() + "' has depth " +
                std::to_string(model.depth()) + (widths.empty() ? "" : " and widths " + list(widths)));
  }
  freeze_all_but_head(model);
  const SctAdapterOptions options = adapter_options(options_.position, options_.scale, options_.scale_on_x);
  const auto tensor_options = at::TensorOptions().device(model.device()).dtype(at::kFloat);
  for (size_t b = 0; b < s.blocks.size(); ++b)
    model.block(s.blocks[b]).attach("sct", SctAdapter(widths[b], s.channels(b), options, tensor_options).ptr());
}

nlohmann::json SctMethod::config() const {
  if (!selection_) {
    nlohmann::json j = options_.to_json();
    j["name"] = name();
    return j;
  }
  nlohmann::json selection = selection_->to_json();
  for (auto& part : selection["parts"]) part.erase("scores");  // measurements, not needed to rebuild
  return {{"name", name()},
          {"scale", options_.scale ? nlohmann::json(*options_.scale) : nlohmann::json(nullptr)},
          {"scale_on_x", options_.scale_on_x},
          {"selection", std::move(selection)}};
}

void SctMethod::write_outputs(const std::string& dir) const {
  if (!selection_) return;
  selection_->save((std::filesystem::path(dir) / "selection.json").string());
  if (!selection_->parts.front().scores.empty())
    write_selection_heatmap(*selection_, (std::filesystem::path(dir) / "selection.png").string());
}

std::unique_ptr<SctMethod> SctMethod::from_config(const nlohmann::json& config) {
  try {
    SctOptions o;
    const SctOptions defaults;
    o.k = config.value("k", defaults.k);
    o.position = parse_sct_position(config.value("position", std::string(to_string(defaults.position))));
    o.strategy = parse_channel_strategy(config.value("strategy", std::string(to_string(defaults.strategy))));
    o.blocks = config.value("blocks", defaults.blocks);
    o.reference_mlp_site = config.value("reference_mlp_site", defaults.reference_mlp_site);
    const nlohmann::json scale = config.value("scale", nlohmann::json(nullptr));
    if (!scale.is_null() && !scale.is_number()) throw Error("sct: option scale must be null or a number, got " + scale.dump());
    if (!scale.is_null()) o.scale = scale.get<double>();
    o.scale_on_x = config.value("scale_on_x", defaults.scale_on_x);
    const nlohmann::json selection = config.value("selection", nlohmann::json(nullptr));
    if (selection.is_null()) return std::make_unique<SctMethod>(o);
    if (!o.same_selection_options(defaults))
      throw Error("sct: a given selection decides k, position, strategy, blocks and reference_mlp_site; leave them out");
    return std::make_unique<SctMethod>(Selection::from_json(selection), o.scale, o.scale_on_x);
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("sct method configuration: ") + e.what());
  }
}

int64_t sct_parameter_count(const Selection& selection) {
  int64_t n = 0;
  for (size_t p = 0; p < selection.parts.size(); ++p)
    for (int64_t k : selection.k) n += k * k + k;
  return n;
}

}  // namespace sct
