#include "sct/peft/selection.h"

#include <ATen/ATen.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "sct/core/error.h"
#include "sct/core/json_error.h"
#include "sct/io/atomic_file.h"
#include "sct/peft/sct_adapter.h"
#include "sct/peft/selection_spec.h"

namespace sct {
namespace {

constexpr const char* kFormat = "sct-channel-selection";
constexpr int kFormatVersion = 1;

}  // namespace

const SelectionPart& Selection::part(const std::string& name) const {
  for (const auto& p : parts)
    if (p.name == name) return p;
  throw Error(std::string("selection (position '") + to_string(position) + "') has no part '" + name + "'");
}

std::vector<std::vector<int64_t>> Selection::channels(size_t position_in_blocks) const {
  std::vector<std::vector<int64_t>> sets;
  for (const auto& p : parts) sets.push_back(p.indices.at(position_in_blocks));
  return sets;
}

nlohmann::json Selection::to_json() const {
  nlohmann::json j = {
      {"format", kFormat},
      {"version", kFormatVersion},
      {"backbone_name", backbone_name},
      {"backbone_sha256", backbone_sha256},
      {"dataset", dataset},
      {"position", to_string(position)},
      {"strategy", to_string(strategy)},
      {"reference_mlp_site", reference_mlp_site},
      {"seed", seed},
      {"widths", widths},
      {"depth", depth},
      {"num_classes", num_classes},
      {"num_images", num_images},
      {"class_counts", class_counts},
      {"blocks", blocks},
      {"k", k},
  };
  nlohmann::json parts_json = nlohmann::json::array();
  for (const auto& p : parts) {
    nlohmann::json pj = {{"name", p.name}, {"site", p.site}, {"indices", p.indices}};
    if (!p.scores.empty()) {
      nlohmann::json rows = nlohmann::json::array();
      for (const at::Tensor& row : p.scores) {
        const at::Tensor r = row.to(at::kCPU, at::kFloat).contiguous();
        rows.push_back(std::vector<float>(r.data_ptr<float>(), r.data_ptr<float>() + r.numel()));
      }
      pj["scores"] = std::move(rows);
    }
    parts_json.push_back(std::move(pj));
  }
  j["parts"] = std::move(parts_json);
  return j;
}

Selection Selection::from_json(const nlohmann::json& j) {
  auto require = [](bool ok, const std::string& msg) {
    if (!ok) throw Error("channel selection file: " + msg);
  };
  Selection s;
  try {
    require(j.value("format", "") == kFormat, std::string("not a '") + kFormat + "' document");
    require(j.at("version").get<int>() == kFormatVersion,
            "version " + j.at("version").dump() + ", this build reads " + std::to_string(kFormatVersion));
    s.backbone_name = j.at("backbone_name").get<std::string>();
    s.backbone_sha256 = j.at("backbone_sha256").get<std::string>();
    s.dataset = j.at("dataset").get<std::string>();
    s.position = parse_sct_position(j.at("position").get<std::string>());
    s.strategy = parse_channel_strategy(j.at("strategy").get<std::string>());
    s.reference_mlp_site = j.at("reference_mlp_site").get<bool>();
    s.seed = j.at("seed").get<uint64_t>();
    s.depth = j.at("depth").get<int64_t>();
    s.blocks = j.at("blocks").get<std::vector<int64_t>>();
    // Files from before Swin have one width for every block.
    s.widths = j.contains("widths") ? j.at("widths").get<std::vector<int64_t>>()
                                    : std::vector<int64_t>(s.blocks.size(), j.at("width").get<int64_t>());
    require(s.widths.size() == s.blocks.size(), "'widths' and 'blocks' differ in length");
    s.num_classes = j.at("num_classes").get<int64_t>();
    s.num_images = j.at("num_images").get<int64_t>();
    s.class_counts = j.at("class_counts").get<std::vector<int64_t>>();
    s.k = j.at("k").get<std::vector<int64_t>>();
    for (const auto& pj : j.at("parts")) {
      SelectionPart p;
      p.name = pj.at("name").get<std::string>();
      p.site = pj.at("site").get<std::string>();
      p.indices = pj.at("indices").get<std::vector<std::vector<int64_t>>>();
      if (pj.contains("scores")) {
        const auto rows = pj.at("scores").get<std::vector<std::vector<float>>>();
        require(rows.size() == s.blocks.size(), "part '" + p.name + "': one score row per block expected");
        for (size_t l = 0; l < rows.size(); ++l) {
          require(int64_t(rows[l].size()) == s.widths[l], "part '" + p.name + "': score rows must have width entries");
          p.scores.push_back(at::tensor(rows[l], at::kFloat));
        }
      }
      s.parts.push_back(std::move(p));
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error("channel selection file: " + json_error_text(e));
  }
  const std::vector<std::string> names = sct_parts(s.position);
  require(s.parts.size() == names.size(), std::string("position '") + to_string(s.position) + "' needs " + std::to_string(names.size()) +
                                              " parts, found " + std::to_string(s.parts.size()));
  require(s.k.size() == s.blocks.size(), "'k' and 'blocks' differ in length");
  for (size_t b = 0; b < s.blocks.size(); ++b)
    require(s.blocks[b] >= 0 && s.blocks[b] < s.depth && (b == 0 || s.blocks[b] > s.blocks[b - 1]),
            "'blocks' must be ascending block numbers in [0, depth)");
  for (size_t i = 0; i < names.size(); ++i) {
    const SelectionPart& p = s.parts[i];
    require(p.name == names[i], "part " + std::to_string(i) + " is '" + p.name + "', expected '" + names[i] + "'");
    require(p.indices.size() == s.blocks.size(), "part '" + p.name + "': one index list per block expected");
    for (size_t b = 0; b < p.indices.size(); ++b) {
      const auto& idx = p.indices[b];
      require(int64_t(idx.size()) == s.k[b], "part '" + p.name + "', block " + std::to_string(s.blocks[b]) + ": " +
                                                 std::to_string(idx.size()) +
                                                 " indices but K = " + std::to_string(s.k[b]));
      for (size_t t = 0; t < idx.size(); ++t)
        require(idx[t] >= 0 && idx[t] < s.widths[b] && (t == 0 || idx[t] > idx[t - 1]),
                "part '" + p.name + "', block " + std::to_string(s.blocks[b]) +
                    ": indices must be ascending channels in [0, width)");
    }
  }
  return s;
}

void Selection::save(const std::string& path) const {
  const std::string text = to_json().dump();
  write_file_atomically(path, [&](std::ostream& os) { os << text << "\n"; });
}

Selection Selection::load(const std::string& path) {
  if (std::filesystem::exists(path)) require_regular_file(path, "channel selection file");
  std::ifstream f(path);
  if (!f) throw Error("cannot open channel selection file '" + path + "'");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(f, refuse_huge_numbers);
  } catch (const nlohmann::json::exception& e) {
    throw Error("channel selection file '" + path + "': " + json_error_text(e));
  } catch (const Error& e) {
    throw Error("channel selection file '" + path + "': " + e.what());
  }
  try {
    return from_json(j);
  } catch (const Error& e) {
    throw Error("'" + path + "': " + e.what());
  }
}

}  // namespace sct
