#include "sct/train/training_curve.h"

#include <algorithm>
#include <cstdio>
#include <opencv2/imgproc.hpp>

#include "sct/core/error.h"
#include "sct/io/png_file.h"

namespace sct {
namespace {

constexpr int kPanelW = 420, kPanelH = 300, kMargin = 48, kTitleH = 28;

struct Series {
  std::vector<cv::Point2d> points;  // (epoch + 1, value)
  cv::Scalar colour;                // BGR
  std::string label;
};

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3g", v);
  return buf;
}

void draw_panel(cv::Mat& image, int left, const std::string& title, const std::vector<Series>& series, double epochs,
                double y_lo, double y_hi) {
  const cv::Scalar black(0, 0, 0), grey(200, 200, 200);
  const int x0 = left + kMargin, x1 = left + kPanelW - 12, y0 = kTitleH + kPanelH - kMargin, y1 = kTitleH + 10;
  const auto text = [&](const std::string& s, int x, int y) {
    cv::putText(image, s, {x, y}, cv::FONT_HERSHEY_SIMPLEX, 0.4, black, 1, cv::LINE_AA);
  };
  const auto px = [&](cv::Point2d p) {
    return cv::Point(int(x0 + (x1 - x0) * p.x / epochs), int(y0 - (y0 - y1) * (p.y - y_lo) / (y_hi - y_lo)));
  };
  for (int i = 0; i <= 4; ++i) {
    const double v = y_lo + (y_hi - y_lo) * i / 4;
    const int y = px({0, v}).y;
    cv::line(image, {x0, y}, {x1, y}, grey, 1);
    text(number(v), left + 4, y + 4);
  }
  cv::rectangle(image, {x0, y1}, {x1, y0}, black, 1);
  text(title, x0, kTitleH + 2);
  text("epoch", (x0 + x1) / 2 - 16, y0 + 30);
  text("0", x0 - 3, y0 + 14);
  text(number(epochs), x1 - 10, y0 + 14);
  int legend = y1 + 14;
  for (const Series& s : series) {
    for (size_t i = 1; i < s.points.size(); ++i) cv::line(image, px(s.points[i - 1]), px(s.points[i]), s.colour, 2, cv::LINE_AA);
    for (const auto& p : s.points) cv::circle(image, px(p), 2, s.colour, cv::FILLED, cv::LINE_AA);
    cv::line(image, {x1 - 110, legend - 4}, {x1 - 92, legend - 4}, s.colour, 2);
    text(s.label, x1 - 88, legend);
    legend += 14;
  }
}

}  // namespace

void write_training_curve(const std::vector<EpochMetrics>& epochs, const std::string& eval_name,
                          const std::string& title, const std::string& path) {
  if (epochs.empty()) throw Error("no epochs to draw in " + path);
  Series loss{{}, {180, 80, 30}, "train loss"};
  Series train{{}, {180, 80, 30}, "train (aug.)"};
  Series eval{{}, {30, 30, 200}, eval_name};
  double loss_hi = 0.0;
  for (const EpochMetrics& m : epochs) {
    const double x = double(m.epoch + 1);
    loss.points.emplace_back(x, m.train_loss);
    loss_hi = std::max(loss_hi, m.train_loss);
    train.points.emplace_back(x, m.train_acc);
    if (m.eval_acc) eval.points.emplace_back(x, *m.eval_acc);
  }
  const double n = double(epochs.back().epoch + 1);
  cv::Mat image(kTitleH + kPanelH, 2 * kPanelW, CV_8UC3, cv::Scalar(255, 255, 255));
  cv::putText(image, title, {8, 18}, cv::FONT_HERSHEY_SIMPLEX, 0.5, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
  draw_panel(image, 0, "training loss", {loss}, n, 0.0, std::max(loss_hi * 1.05, 1e-6));
  std::vector<Series> acc{train};
  if (!eval.points.empty()) acc.push_back(eval);
  draw_panel(image, kPanelW, "top-1 (%)", acc, n, 0.0, 100.0);
  write_png(path, image);
}

}  // namespace sct
