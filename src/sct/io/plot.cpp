#include "sct/io/plot.h"

#include <cmath>
#include <cstdio>
#include <opencv2/imgproc.hpp>

#include "sct/core/error.h"
#include "sct/io/png_file.h"

namespace sct {
namespace {

constexpr int kPanelW = 420, kPanelH = 300, kMargin = 48, kTitleH = 28;

// BGR, distinct on white and in grey print.
const cv::Scalar kPalette[] = {{180, 80, 30}, {30, 30, 200}, {40, 150, 40}, {0, 140, 230}, {150, 50, 150},
                               {120, 120, 0}, {60, 60, 60},  {200, 150, 0}, {0, 90, 140}};

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3g", v);
  return buf;
}

void draw_panel(cv::Mat& image, int left, const PlotPanel& panel, const std::string& path) {
  if (!(panel.x_hi > panel.x_lo) || !(panel.y_hi > panel.y_lo) || (panel.log_x && !(panel.x_lo > 0.0)))
    throw Error("plot " + path + ": panel '" + panel.title + "' has an empty or invalid range");
  const cv::Scalar black(0, 0, 0), grey(200, 200, 200);
  const int x0 = left + kMargin, x1 = left + kPanelW - 12, y0 = kTitleH + kPanelH - kMargin, y1 = kTitleH + 10;
  const auto text = [&](const std::string& s, int x, int y) {
    cv::putText(image, s, {x, y}, cv::FONT_HERSHEY_SIMPLEX, 0.4, black, 1, cv::LINE_AA);
  };
  const auto fx = [&](double x) {
    return panel.log_x ? (std::log(x) - std::log(panel.x_lo)) / (std::log(panel.x_hi) - std::log(panel.x_lo))
                       : (x - panel.x_lo) / (panel.x_hi - panel.x_lo);
  };
  const auto px = [&](double x, double y) {
    return cv::Point(int(x0 + (x1 - x0) * fx(x)), int(y0 - (y0 - y1) * (y - panel.y_lo) / (panel.y_hi - panel.y_lo)));
  };
  for (int i = 0; i <= 4; ++i) {
    const double v = panel.y_lo + (panel.y_hi - panel.y_lo) * i / 4;
    const int y = px(panel.x_lo, v).y;
    cv::line(image, {x0, y}, {x1, y}, grey, 1);
    text(number(v), left + 4, y + 4);
  }
  cv::rectangle(image, {x0, y1}, {x1, y0}, black, 1);
  text(panel.title, x0, kTitleH + 2);
  text(panel.x_label, (x0 + x1) / 2 - 4 * int(panel.x_label.size()) / 2, y0 + 30);
  text(number(panel.x_lo), x0 - 3, y0 + 14);
  text(number(panel.x_hi), x1 - 10, y0 + 14);
  int legend = y1 + 14;
  for (size_t k = 0; k < panel.series.size(); ++k) {
    const PlotSeries& s = panel.series[k];
    const cv::Scalar colour = kPalette[k % (sizeof(kPalette) / sizeof(kPalette[0]))];
    const auto at = [&](size_t i) { return px(s.points[i].first, s.points[i].second); };
    if (s.lines)
      for (size_t i = 1; i < s.points.size(); ++i) cv::line(image, at(i - 1), at(i), colour, 2, cv::LINE_AA);
    for (size_t i = 0; i < s.points.size(); ++i)
      cv::circle(image, at(i), s.lines ? 2 : 4, colour, cv::FILLED, cv::LINE_AA);
    cv::line(image, {x1 - 110, legend - 4}, {x1 - 92, legend - 4}, colour, 2);
    text(s.label, x1 - 88, legend);
    legend += 14;
  }
}

}  // namespace

void write_plot(const std::string& path, const std::string& title, const std::vector<PlotPanel>& panels) {
  if (panels.empty()) throw Error("plot " + path + ": nothing to draw");
  cv::Mat image(kTitleH + kPanelH, int(panels.size()) * kPanelW, CV_8UC3, cv::Scalar(255, 255, 255));
  cv::putText(image, title, {8, 18}, cv::FONT_HERSHEY_SIMPLEX, 0.5, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
  for (size_t i = 0; i < panels.size(); ++i) draw_panel(image, int(i) * kPanelW, panels[i], path);
  write_png(path, image);
}

}  // namespace sct
