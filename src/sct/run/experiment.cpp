#include "sct/run/experiment.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include "sct/core/error.h"
#include "sct/io/atomic_file.h"
#include "sct/io/plot.h"
#include "sct/peft/peft_method.h"

namespace sct {

namespace {

ExperimentRow sct_row(std::string label, const char* key, const char* value, int min_seeds = 1) {
  return {std::move(label), {{"name", "sct"}, {key, value}}, min_seeds, ""};
}

// A row's trainable parameters (head included) and test top-1, each averaged over the columns.
std::pair<double, double> params_and_accuracy(const ExperimentResults& results, const std::string& row) {
  double params = 0.0, acc = 0.0;
  for (const std::string& column : results.columns) {
    const ExperimentCell& c = results.cell(row, column);
    params += double(c.trainable_params + c.head_params) / double(results.columns.size());
    acc += c.mean / double(results.columns.size());
  }
  return {params, acc};
}

std::string csv_cell(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string quoted = "\"";
  for (char c : s) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

}  // namespace

std::vector<ExperimentRow> method_rows(const std::vector<std::string>& methods) {
  std::vector<ExperimentRow> rows;
  for (const std::string& m : methods) {
    const nlohmann::json method = {{"name", m}};
    make_peft_method(method);  // an unknown name fails before any run
    rows.push_back({m, method, 1, peft_method_variant(method)});
  }
  if (rows.empty()) throw Error("no method given");
  return rows;
}

std::vector<ExperimentRow> ablation_rows(const std::string& ablation) {
  std::vector<ExperimentRow> rows;
  if (ablation == "channels")
    rows = {sct_row("salient", "strategy", "salient"), sct_row("insalient", "strategy", "insalient"),
            sct_row("random", "strategy", "random", 3)};  // a draw per seed
  else if (ablation == "score")
    rows = {sct_row("class-aware", "strategy", "salient"), sct_row("dataset", "strategy", "dataset")};
  else if (ablation == "position")
    rows = {sct_row("attn", "position", "attn"), sct_row("mlp", "position", "mlp"),
            sct_row("both", "position", "both")};
  else if (ablation == "k")
    rows = {sct_row("K=D/24", "k", "1/24"), sct_row("K=D/8", "k", "1/8"), sct_row("K=D/4", "k", "1/4")};
  else if (ablation == "depth")
    rows = {sct_row("all blocks", "blocks", "all"), sct_row("last 6", "blocks", "last:6"),
            sct_row("last 3", "blocks", "last:3")};
  else
    throw Error("ablation '" + ablation + "' is not one of channels, score, position, k, depth");
  for (const ExperimentRow& r : rows) make_peft_method(r.method);
  return rows;
}

std::vector<ExperimentRow> frontier_rows(const std::vector<std::string>& methods) {
  // SCT's k as a fraction of the width, so that one range serves every backbone.
  static const std::map<std::string, std::pair<std::string, nlohmann::json>> knobs = {
      {"sct", {"k", {"1/24", "1/12", "1/8", "1/4", "1/2"}}},
      {"lora", {"rank", {1, 2, 4, 8, 16}}},
      {"adapter", {"bottleneck", {2, 4, 8, 16, 32}}},
      {"adaptformer", {"bottleneck", {4, 16, 64}}},
      {"vpt", {"length", {1, 5, 10, 50}}},
  };
  std::vector<ExperimentRow> rows;
  for (const ExperimentRow& single : method_rows(methods)) {
    const auto knob = knobs.find(single.label);
    if (knob == knobs.end()) {
      rows.push_back(single);
      continue;
    }
    for (const nlohmann::json& value : knob->second.second) {
      nlohmann::json method = single.method;
      method[knob->second.first] = value;
      make_peft_method(method);
      const std::string shown = value.is_string() ? value.get<std::string>() : value.dump();
      rows.push_back({single.label + " " + knob->second.first + "=" + shown, method, 1, peft_method_variant(method)});
    }
  }
  return rows;
}

std::string row_title(const std::vector<ExperimentRow>& rows, const std::string& label) {
  for (const ExperimentRow& r : rows)
    if (r.label == label && !r.variant.empty()) return label + " (" + r.variant + ")";
  return label;
}

std::vector<std::string> method_args(const nlohmann::json& method) {
  std::vector<std::string> args = {"--method", method.at("name").get<std::string>()};
  for (const auto& item : method.items()) {
    if (item.key() == "name") continue;
    const std::string value = item.value().is_string() ? item.value().get<std::string>() : item.value().dump();
    args.insert(args.end(), {"--method-option", item.key() + "=" + value});
  }
  return args;
}

std::vector<ExperimentRun> seeded_runs(const ExperimentRow& row, const std::string& column,
                                       const std::string& column_dir, const std::vector<std::string>& column_args,
                                       int seeds, uint64_t first_seed, const std::vector<std::string>& train_args) {
  std::vector<ExperimentRun> runs;
  for (int s = 0; s < std::max(seeds, row.min_seeds); ++s) {
    ExperimentRun run;
    run.seed = first_seed + uint64_t(s);
    run.id = folder_name(row.label) + "/" + (column_dir.empty() ? "" : column_dir + "/") + "seed" +
             std::to_string(run.seed);
    run.row = row.label;
    run.column = column;
    run.args = column_args;
    run.args.insert(run.args.end(), {"--seed", std::to_string(run.seed)});
    for (const std::string& a : method_args(row.method)) run.args.push_back(a);
    run.args.insert(run.args.end(), train_args.begin(), train_args.end());
    runs.push_back(std::move(run));
  }
  return runs;
}

void check_unique_ids(const std::vector<ExperimentRun>& runs) {
  std::set<std::string> ids;
  for (const ExperimentRun& r : runs)
    if (!ids.insert(r.id).second)
      throw Error("run " + r.id + " is listed twice (a method, shot count or seed given twice?)");
}

std::map<std::string, TaskSummary> FunctionRunner::run(const std::vector<ExperimentRun>& runs, const std::string& dir) {
  check_unique_ids(runs);
  std::map<std::string, TaskSummary> out;
  for (const ExperimentRun& r : runs) out[r.id] = train_(r, (std::filesystem::path(dir) / r.id).string());
  return out;
}

const ExperimentCell& ExperimentResults::cell(const std::string& row, const std::string& column) const {
  const auto it = cells.find({row, column});
  if (it == cells.end()) throw Error("experiment: no runs for row '" + row + "', column '" + column + "'");
  return it->second;
}

ExperimentResults aggregate(const std::vector<ExperimentRun>& runs, const std::map<std::string, TaskSummary>& summaries) {
  ExperimentResults r;
  std::set<std::string> ids;
  std::map<std::pair<std::string, std::string>, std::vector<const TaskSummary*>> grouped;
  for (const ExperimentRun& run : runs) {
    if (!ids.insert(run.id).second) throw Error("experiment: run id '" + run.id + "' is used twice");
    const auto it = summaries.find(run.id);
    if (it == summaries.end()) throw Error("experiment: run '" + run.id + "' has no result");
    if (std::find(r.rows.begin(), r.rows.end(), run.row) == r.rows.end()) r.rows.push_back(run.row);
    if (std::find(r.columns.begin(), r.columns.end(), run.column) == r.columns.end()) r.columns.push_back(run.column);
    grouped[{run.row, run.column}].push_back(&it->second);
  }
  for (const auto& [key, group] : grouped) {
    ExperimentCell& c = r.cells[key];
    const double n = double(group.size());
    for (const TaskSummary* s : group) {
      c.test_acc.push_back(s->test_acc);
      c.train_seconds += s->train_seconds / n;
      c.peak_rss_mb = std::max(c.peak_rss_mb, s->peak_rss_mb);
      c.infer_ms_per_image += s->infer_ms_per_image / n;
    }
    std::tie(c.mean, c.std) = mean_std(c.test_acc);
    c.trainable_params = group.front()->trainable_params;
    c.head_params = group.front()->head_params;
    c.lr = group.front()->lr;
    c.task_kb = double(group.front()->task_dir_bytes) / 1024.0;
  }
  return r;
}

std::string Table::markdown() const {
  const auto line = [](const std::vector<std::string>& cells) {
    std::string s = "|";
    for (const std::string& c : cells) s += " " + c + " |";
    return s + "\n";
  };
  std::string md = line(header) + "|";
  for (size_t i = 0; i < header.size(); ++i) md += "---|";
  md += "\n";
  for (const auto& row : rows) md += line(row);
  return md;
}

std::string Table::csv() const {
  const auto line = [](const std::vector<std::string>& cells) {
    std::string s;
    for (size_t i = 0; i < cells.size(); ++i) s += (i ? "," : "") + csv_cell(cells[i]);
    return s + "\n";
  };
  std::string out = line(header);
  for (const auto& row : rows) out += line(row);
  return out;
}

PlotPanel accuracy_against_parameters(const ExperimentResults& results) {
  // Everything a row trains, head included, so that a linear probe has a place on the log axis.
  PlotPanel panel{"test top-1 (%), mean over " + std::to_string(results.columns.size()) + " column(s)",
                  "trainable parameters with head (log)", {}, 1e300, 0.0, 100.0, 0.0, true};
  for (const std::string& row : results.rows) {
    const auto [params, acc] = params_and_accuracy(results, row);
    panel.series.push_back({row, {{params, acc}}, false});
    panel.x_lo = std::min(panel.x_lo, params / 2.0);
    panel.x_hi = std::max(panel.x_hi, params * 2.0);
    panel.y_lo = std::min(panel.y_lo, acc);
    panel.y_hi = std::max(panel.y_hi, acc);
  }
  // Tight around the data (a point apart is what the reader looks for), a little room above and below.
  const double pad = std::max(1.0, 0.08 * (panel.y_hi - panel.y_lo));
  panel.y_lo = std::max(0.0, std::floor(panel.y_lo - pad));
  panel.y_hi = std::min(100.0, std::ceil(panel.y_hi + pad));
  return panel;
}

std::vector<std::string> pareto_front(const ExperimentResults& results) {
  std::vector<std::pair<std::pair<double, double>, std::string>> points;
  for (const std::string& row : results.rows) points.push_back({params_and_accuracy(results, row), row});
  // By parameters, and at equal parameters the better first: a row is on the front when it beats every
  // row before it.
  std::sort(points.begin(), points.end(), [](const auto& a, const auto& b) {
    return a.first.first != b.first.first ? a.first.first < b.first.first : a.first.second > b.first.second;
  });
  std::vector<std::string> front;
  double best = -1.0;
  for (const auto& [point, row] : points)
    if (point.second > best) {
      front.push_back(row);
      best = point.second;
    }
  return front;
}

PlotPanel frontier_panel(const ExperimentResults& results, const std::vector<ExperimentRow>& rows) {
  PlotPanel panel = accuracy_against_parameters(results);
  panel.series.clear();
  std::map<std::string, size_t> series_of;  // method name -> its series
  for (const std::string& row : results.rows) {
    const auto r = std::find_if(rows.begin(), rows.end(), [&](const ExperimentRow& e) { return e.label == row; });
    const std::string method = r == rows.end() ? row : r->method.at("name").get<std::string>();
    if (!series_of.count(method)) {
      series_of[method] = panel.series.size();
      panel.series.push_back({method, {}, true});
    }
    panel.series[series_of[method]].points.push_back(params_and_accuracy(results, row));
  }
  for (PlotSeries& s : panel.series) {
    std::sort(s.points.begin(), s.points.end());
    s.lines = s.points.size() > 1;
  }
  PlotSeries front{"Pareto front", {}, true, /*outline=*/true};
  for (const std::string& row : pareto_front(results)) front.points.push_back(params_and_accuracy(results, row));
  panel.series.push_back(std::move(front));
  return panel;
}

void write_experiment(const std::string& base, const std::string& title, const Table& table, const Table& csv,
                      const std::vector<ExperimentRun>& runs, const std::map<std::string, TaskSummary>& summaries,
                      const std::vector<PlotPanel>& plot) {
  nlohmann::json all = nlohmann::json::array();
  for (const ExperimentRun& r : runs)
    all.push_back({{"id", r.id},
                   {"row", r.row},
                   {"column", r.column},
                   {"seed", r.seed},
                   {"result", summaries.at(r.id).to_json()}});
  write_file_atomically(base + ".md", [&](std::ostream& o) { o << table.markdown(); });
  write_file_atomically(base + ".csv", [&](std::ostream& o) { o << csv.csv(); });
  write_file_atomically(base + ".json", [&](std::ostream& o) { o << all.dump(2) << "\n"; });
  write_plot(base + ".png", title, plot);
}

std::pair<double, double> mean_std(const std::vector<double>& values) {
  if (values.empty()) return {0.0, 0.0};
  double mean = 0.0, var = 0.0;
  for (double v : values) mean += v / double(values.size());
  for (double v : values) var += (v - mean) * (v - mean);
  return {mean, values.size() > 1 ? std::sqrt(var / double(values.size() - 1)) : 0.0};
}

std::string format_number(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, v);
  return buf;
}

std::string folder_name(std::string label) {
  for (char& c : label)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return label;
}

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

}  // namespace sct
