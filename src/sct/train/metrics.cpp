#include "sct/train/metrics.h"

#include <filesystem>
#include <nlohmann/json.hpp>
#include <ostream>

#include "sct/core/error.h"
#include "sct/io/atomic_file.h"

namespace sct {
namespace {

using nlohmann::json;

// nlohmann writes the shortest text that reads back to the same double: exact and short.
std::string number(double v) { return json(v).dump(); }

}  // namespace

MetricsLog::MetricsLog(std::string eval_name, bool optimistic)
    : eval_name_(std::move(eval_name)), optimistic_(optimistic) {}

nlohmann::json MetricsLog::epoch_json(const EpochMetrics& m) const {
  json j = {{"epoch", m.epoch},
            {"lr", m.lr},
            {"train_loss", m.train_loss},
            {"train_acc", m.train_acc},
            {eval_name_ + "_acc", m.eval_acc ? json(*m.eval_acc) : json(nullptr)},
            {"steps", m.steps},
            {"images", m.images},
            {"images_per_s", m.images_per_s},
            {"seconds", m.seconds},
            {"eval_seconds", m.eval_seconds},
            {"optimistic", optimistic_}};
  return j;
}

std::string MetricsLog::csv_header() const {
  return "epoch,lr,train_loss,train_acc," + eval_name_ +
         "_acc,steps,images,images_per_s,seconds,eval_seconds,optimistic";
}

std::string MetricsLog::csv_row(const EpochMetrics& m) const {
  return std::to_string(m.epoch) + "," + number(m.lr) + "," + number(m.train_loss) + "," + number(m.train_acc) + "," +
         (m.eval_acc ? number(*m.eval_acc) : std::string()) + "," + std::to_string(m.steps) + "," +
         std::to_string(m.images) + "," + number(m.images_per_s) + "," + number(m.seconds) + "," +
         number(m.eval_seconds) + "," + (optimistic_ ? "true" : "false");
}

nlohmann::json MetricsLog::to_json() const {
  json rows = json::array();
  for (const EpochMetrics& m : epochs_) rows.push_back(epoch_json(m));
  return rows;
}

void MetricsLog::load_json(const nlohmann::json& j) {
  if (!j.is_array()) throw Error("metrics: expected a JSON array");
  std::vector<EpochMetrics> rows;
  try {
    for (const json& r : j) {
      EpochMetrics m;
      m.epoch = r.at("epoch").get<int64_t>();
      m.lr = r.at("lr").get<double>();
      m.train_loss = r.at("train_loss").get<double>();
      m.train_acc = r.at("train_acc").get<double>();
      const json& acc = r.at(eval_name_ + "_acc");
      if (!acc.is_null()) m.eval_acc = acc.get<double>();
      m.steps = r.at("steps").get<int64_t>();
      m.images = r.at("images").get<int64_t>();
      m.images_per_s = r.at("images_per_s").get<double>();
      m.seconds = r.at("seconds").get<double>();
      m.eval_seconds = r.at("eval_seconds").get<double>();
      rows.push_back(m);
    }
  } catch (const json::exception& e) {
    throw Error(std::string("metrics: ") + e.what());
  }
  epochs_ = std::move(rows);
}

void MetricsLog::write(const std::string& dir) const {
  const std::filesystem::path d(dir);
  write_file_atomically((d / "metrics.jsonl").string(), [&](std::ostream& out) {
    for (const EpochMetrics& m : epochs_) out << epoch_json(m).dump() << '\n';
  });
  write_file_atomically((d / "metrics.csv").string(), [&](std::ostream& out) {
    out << csv_header() << '\n';
    for (const EpochMetrics& m : epochs_) out << csv_row(m) << '\n';
  });
}

}  // namespace sct
