#include "sct/run/domain_generalization.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <ostream>

#include "sct/core/error.h"
#include "sct/data/domain_shift.h"
#include "sct/data/fashion_mnist_1k.h"
#include "sct/data/image_shift.h"
#include "sct/run/trained_model.h"
#include "sct/train/evaluate.h"

namespace sct {

namespace fs = std::filesystem;

std::vector<DomainTest> fashion_mnist_shifted_tests() {
  const auto test = std::make_shared<const ImageSet>(load_fashion_mnist_1k().test);
  std::vector<DomainTest> tests;
  for (const ImageShift shift : all_image_shifts()) {
    const auto shifted = std::make_shared<const ImageSet>(shifted_copy(*test, shift));
    tests.push_back({image_shift_name(shift),
                     [shifted](int64_t size, const Normalization& normalization, int64_t batch) {
                       return std::make_shared<CacheEvalSource>(
                           std::make_shared<const ImageCache>(ImageCache::from_images(*shifted, size)), normalization,
                           batch);
                     },
                     std::nullopt});
  }
  return tests;
}

std::vector<DomainTest> imagenet_shifted_tests(const std::string& root, bool skip_bad_images) {
  std::vector<DomainTest> tests;
  for (const auto& [name, folder] : {std::pair{"imagenet-v2", "imagenetv2"}, std::pair{"imagenet-sketch", "imagenet-sketch"},
                                     std::pair{"imagenet-a", "imagenet-adversarial"},
                                     std::pair{"imagenet-r", "imagenet-rendition"}}) {
    const auto set = std::make_shared<const DomainShiftTest>(open_domain_shift_test((fs::path(root) / folder).string(), name));
    std::optional<ClassSubset> classes;
    if (int64_t(set->classes.indices.size()) < set->classes.num_classes) classes = set->classes;
    tests.push_back({set->name,
                     [set, skip_bad_images](int64_t size, const Normalization& normalization, int64_t batch) {
                       EvalStreamOptions options;
                       options.image_size = size;
                       options.batch_size = batch;
                       options.normalization = normalization;
                       options.cache.skip_bad_images = skip_bad_images;
                       return std::make_shared<StreamEvalSource>(set->images, options);
                     },
                     classes});
  }
  return tests;
}

ExperimentReport run_domain(const DomainSpec& spec, ExperimentRunner& runner, std::ostream& log) {
  if (spec.rows.empty() || spec.tests.empty()) throw Error("sct domain: no methods or no shifted test sets");
  // Each run's random backbone would depend on its seed: only a checkpoint is the same for every run.
  if (spec.checkpoint.empty())
    throw Error("sct domain needs --checkpoint: the shifted sets are scored on the backbone every run trained from");
  std::vector<ExperimentRun> runs;
  for (const ExperimentRow& row : spec.rows)
    for (ExperimentRun& run : seeded_runs(row, spec.source_name, "", {}, spec.seeds, spec.seed, spec.train_args))
      runs.push_back(std::move(run));
  fs::create_directories(spec.out);
  log << "domain: " << runs.size() << " training runs, then " << spec.tests.size() << " shifted test sets each\n";
  const std::map<std::string, TaskSummary> trained = runner.run(runs, spec.out);

  // One cell per (run, test set): the source column is the run's own test score.
  ExperimentReport report;
  std::map<std::string, TaskSummary> scores;
  std::optional<PretrainedBackbone> backbone;
  for (const ExperimentRun& run : runs) {
    const TaskSummary& summary = trained.at(run.id);
    report.runs.push_back(run);
    scores[run.id] = summary;
    if (!backbone) backbone = load_backbone(read_task_dir(summary.task_dir).info.backbone, spec.checkpoint, spec.device);
    TrainedTask t = load_trained_task(summary.task_dir, *backbone);
    for (const DomainTest& test : spec.tests) {
      const auto source = test.source(t.task.info.img_size(), t.task.info.normalization, spec.batch_size);
      const Top1 top1 = evaluate_top1(*t.model, *source, test.classes ? &*test.classes : nullptr);
      ExperimentRun cell = run;
      cell.id = run.id + "/" + folder_name(test.name);
      cell.column = test.name;
      report.runs.push_back(cell);
      scores[cell.id] = summary;
      scores[cell.id].test_acc = top1.percent();
      log << "domain: " << run.id << " on " << test.name << ": top-1 " << format_number("%.2f", top1.percent())
          << "%\n";
    }
  }
  const ExperimentResults& results = report.results = aggregate(report.runs, scores);

  const auto fmt = format_number;
  Table& md = report.table;
  md.header = {"method", "trainable params", spec.source_name};
  for (const DomainTest& test : spec.tests) md.header.push_back(test.name);
  md.header.push_back("shifted mean");
  for (const std::string& row : results.rows) {
    const auto cell_text = [&](const ExperimentCell& c) {
      return fmt("%.1f", c.mean) + (c.test_acc.size() > 1 ? " ± " + fmt("%.1f", c.std) : "");
    };
    const ExperimentCell& source = results.cell(row, spec.source_name);
    std::vector<std::string> cells = {row_title(spec.rows, row), std::to_string(source.trainable_params),
                                      cell_text(source)};
    double shifted = 0.0;
    for (const DomainTest& test : spec.tests) {
      const ExperimentCell& c = results.cell(row, test.name);
      cells.push_back(cell_text(c));
      shifted += c.mean / double(spec.tests.size());
    }
    cells.push_back(fmt("%.1f", shifted));
    md.rows.push_back(std::move(cells));
  }
  Table csv;
  csv.header = {"method", "test_set", "seed", "test_acc", "trainable_params", "head_params", "lr", "train_seconds"};
  for (const ExperimentRun& run : report.runs) {
    const TaskSummary& r = scores.at(run.id);
    csv.rows.push_back({run.row, run.column, std::to_string(run.seed), fmt("%.4f", r.test_acc),
                        std::to_string(r.trainable_params), std::to_string(r.head_params), fmt("%g", r.lr),
                        fmt("%.2f", r.train_seconds)});
  }
  write_experiment((fs::path(spec.out) / "domain").string(), "sct domain", md, csv, report.runs, scores,
                   {accuracy_against_parameters(results)});
  return report;
}

}  // namespace sct
