#include "sct/train/training_curve.h"

#include <algorithm>

#include "sct/core/error.h"
#include "sct/io/plot.h"

namespace sct {

void write_training_curve(const std::vector<EpochMetrics>& epochs, const std::string& eval_name,
                          const std::string& title, const std::string& path) {
  if (epochs.empty()) throw Error("no epochs to draw in " + path);
  PlotSeries loss{"train loss", {}}, train{"train (aug.)", {}}, eval{eval_name, {}};
  double loss_hi = 0.0;
  for (const EpochMetrics& m : epochs) {
    const double x = double(m.epoch + 1);
    loss.points.emplace_back(x, m.train_loss);
    loss_hi = std::max(loss_hi, m.train_loss);
    train.points.emplace_back(x, m.train_acc);
    if (m.eval_acc) eval.points.emplace_back(x, *m.eval_acc);
  }
  const double n = double(epochs.back().epoch + 1);
  PlotPanel loss_panel{"training loss", "epoch", {loss}, 0.0, n, 0.0, std::max(loss_hi * 1.05, 1e-6)};
  PlotPanel acc_panel{"top-1 (%)", "epoch", {train}, 0.0, n, 0.0, 100.0};
  if (!eval.points.empty()) acc_panel.series.push_back(eval);
  write_plot(path, title, {loss_panel, acc_panel});
}

}  // namespace sct
