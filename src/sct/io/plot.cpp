#include "sct/io/plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <opencv2/imgproc.hpp>

#include "sct/core/error.h"
#include "sct/io/png_file.h"

namespace sct {
namespace {

// Each panel: the plot area, then its legend to the right, so no series hides behind the legend.
constexpr int kPanelW = 600, kPanelH = 360, kMargin = 52, kLegendW = 150, kTitleH = 28;
constexpr double kFont = 0.42;

// BGR, distinct on white and in grey print.
const cv::Scalar kPalette[] = {{180, 80, 30}, {30, 30, 200}, {40, 150, 40}, {0, 140, 230}, {150, 50, 150},
                               {120, 120, 0}, {60, 60, 60},  {200, 150, 0}, {0, 90, 140}};
const cv::Scalar kBlack(0, 0, 0), kGrid(215, 215, 215);

std::string number(double v) {
  char buf[32];
  if (std::fabs(v) >= 1e6) std::snprintf(buf, sizeof(buf), "%.3gM", v / 1e6);
  else if (std::fabs(v) >= 1e3) std::snprintf(buf, sizeof(buf), "%.3gk", v / 1e3);
  else std::snprintf(buf, sizeof(buf), "%.3g", v);
  return buf;
}

// Ticks at multiples of 1, 2 or 5 times a power of ten, about five over [lo, hi].
std::vector<double> round_ticks(double lo, double hi) {
  const double raw = (hi - lo) / 5.0, decade = std::pow(10.0, std::floor(std::log10(raw)));
  double step = decade;
  for (double m : {2.0, 5.0, 10.0})
    if (raw > step) step = m * decade;
  std::vector<double> ticks;
  for (double t = std::ceil(lo / step - 1e-9) * step; t <= hi + 1e-9 * step; t += step) ticks.push_back(t);
  return ticks;
}

// Powers of ten within [lo, hi] (a log axis); the two ends where fewer than two fall inside.
std::vector<double> decade_ticks(double lo, double hi) {
  std::vector<double> ticks;
  for (double t = std::pow(10.0, std::ceil(std::log10(lo) - 1e-9)); t <= hi * (1 + 1e-9); t *= 10.0) ticks.push_back(t);
  return ticks.size() >= 2 ? ticks : std::vector<double>{lo, hi};
}

void dashed_line(cv::Mat& image, cv::Point a, cv::Point b, const cv::Scalar& colour, int thickness) {
  const double len = std::hypot(double(b.x - a.x), double(b.y - a.y));
  constexpr double kDash = 7.0, kGap = 5.0;
  for (double s = 0.0; s < len; s += kDash + kGap) {
    const double e = std::min(len, s + kDash);
    const auto at = [&](double t) { return cv::Point(int(a.x + (b.x - a.x) * t / len), int(a.y + (b.y - a.y) * t / len)); };
    cv::line(image, at(s), at(e), colour, thickness, cv::LINE_AA);
  }
}

void draw_panel(cv::Mat& image, int left, const PlotPanel& panel, const std::string& path) {
  if (!(panel.x_hi > panel.x_lo) || !(panel.y_hi > panel.y_lo) || (panel.log_x && !(panel.x_lo > 0.0)))
    throw Error("plot " + path + ": panel '" + panel.title + "' has an empty or invalid range");
  const int x0 = left + kMargin, x1 = left + kPanelW - kLegendW, y0 = kTitleH + kPanelH - kMargin, y1 = kTitleH + 12;
  const auto text = [&](const std::string& s, int x, int y) {
    cv::putText(image, s, {x, y}, cv::FONT_HERSHEY_SIMPLEX, kFont, kBlack, 1, cv::LINE_AA);
  };
  const auto fx = [&](double x) {
    return panel.log_x ? (std::log(x) - std::log(panel.x_lo)) / (std::log(panel.x_hi) - std::log(panel.x_lo))
                       : (x - panel.x_lo) / (panel.x_hi - panel.x_lo);
  };
  const auto px = [&](double x, double y) {
    return cv::Point(int(x0 + (x1 - x0) * fx(x)), int(y0 - (y0 - y1) * (y - panel.y_lo) / (panel.y_hi - panel.y_lo)));
  };
  for (double v : round_ticks(panel.y_lo, panel.y_hi)) {
    const int y = px(panel.x_lo, v).y;
    cv::line(image, {x0, y}, {x1, y}, kGrid, 1);
    text(number(v), left + 6, y + 4);
  }
  for (double v : panel.log_x ? decade_ticks(panel.x_lo, panel.x_hi) : round_ticks(panel.x_lo, panel.x_hi)) {
    const int x = px(v, panel.y_lo).x;
    cv::line(image, {x, y1}, {x, y0}, kGrid, 1);
    const std::string label = number(v);
    text(label, x - 4 * int(label.size()), y0 + 16);
  }
  cv::rectangle(image, {x0, y1}, {x1, y0}, kBlack, 1);
  text(panel.title, x0, kTitleH + 4);
  text(panel.x_label, (x0 + x1) / 2 - 4 * int(panel.x_label.size()), y0 + 36);
  int legend = y1 + 10, colour_index = 0;
  std::vector<const PlotSeries*> order;  // outlined series last, over the others
  for (const PlotSeries& s : panel.series)
    if (!s.outline) order.push_back(&s);
  for (const PlotSeries& s : panel.series)
    if (s.outline) order.push_back(&s);
  for (const PlotSeries* s : order) {
    const cv::Scalar colour = s->outline ? kBlack : kPalette[colour_index++ % int(std::size(kPalette))];
    const auto at = [&](size_t i) { return px(s->points[i].first, s->points[i].second); };
    for (size_t i = 1; s->lines && i < s->points.size(); ++i) {
      if (s->outline) dashed_line(image, at(i - 1), at(i), colour, 1);
      else cv::line(image, at(i - 1), at(i), colour, 2, cv::LINE_AA);
    }
    for (size_t i = 0; i < s->points.size(); ++i) {
      if (s->outline) cv::circle(image, at(i), 7, colour, 1, cv::LINE_AA);
      else cv::circle(image, at(i), s->lines ? 3 : 5, colour, cv::FILLED, cv::LINE_AA);
    }
    const cv::Point key(x1 + 12, legend);
    if (s->outline) {
      dashed_line(image, key, key + cv::Point(22, 0), colour, 1);
      cv::circle(image, key + cv::Point(11, 0), 6, colour, 1, cv::LINE_AA);
    } else {
      cv::line(image, key, key + cv::Point(22, 0), colour, 2, cv::LINE_AA);
      cv::circle(image, key + cv::Point(11, 0), 3, colour, cv::FILLED, cv::LINE_AA);
    }
    text(s->label, key.x + 28, legend + 4);
    legend += 18;
  }
}

}  // namespace

void write_plot(const std::string& path, const std::string& title, const std::vector<PlotPanel>& panels) {
  if (panels.empty()) throw Error("plot " + path + ": nothing to draw");
  cv::Mat image(kTitleH + kPanelH, int(panels.size()) * kPanelW, CV_8UC3, cv::Scalar(255, 255, 255));
  cv::putText(image, title, {8, 18}, cv::FONT_HERSHEY_SIMPLEX, 0.5, kBlack, 1, cv::LINE_AA);
  for (size_t i = 0; i < panels.size(); ++i) draw_panel(image, int(i) * kPanelW, panels[i], path);
  write_png(path, image);
}

}  // namespace sct
