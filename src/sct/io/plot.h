// Line and point plots as PNG, the one figure writer for training curves and experiment tables
// (accuracy against trainable parameters, against shots): panels side by side, each with its series,
// a legend beside the plot, ticks at round values, and a linear or logarithmic (decade ticks) x axis.
// Drawn with OpenCV, written atomically.
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace sct {

struct PlotSeries {
  std::string label;
  std::vector<std::pair<double, double>> points;  // (x, y), drawn in order
  bool lines = true;                               // false: markers only
  bool outline = false;  // drawn over the others, dashed black with open rings (a Pareto front); no palette colour
};

struct PlotPanel {
  std::string title, x_label;
  std::vector<PlotSeries> series;  // coloured in order from one palette
  double x_lo = 0.0, x_hi = 1.0, y_lo = 0.0, y_hi = 1.0;
  bool log_x = false;  // needs x_lo > 0
};

// The panels side by side under `title`. Throws sct::Error naming `path` for an empty or invalid range
// or a failed write.
void write_plot(const std::string& path, const std::string& title, const std::vector<PlotPanel>& panels);

}  // namespace sct
