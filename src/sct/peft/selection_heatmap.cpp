#include "sct/peft/selection_heatmap.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <opencv2/imgproc.hpp>

#include "sct/core/error.h"
#include "sct/io/png_file.h"

namespace sct {
namespace {

constexpr int kRowHeight = 14;   // score cells of one block
constexpr int kMarkHeight = 4;   // the kept-channel strip under them
constexpr int kLabelWidth = 72;  // "block 11" on the left
constexpr int kTitleHeight = 22;

}  // namespace

void write_selection_heatmap(const Selection& selection, const std::string& path) {
  for (const auto& part : selection.parts)
    if (part.scores.empty())
      throw Error("the selection holds no scores to draw (strategy '" + std::string(to_string(selection.strategy)) + "' without data)");
  const int width = static_cast<int>(*std::max_element(selection.widths.begin(), selection.widths.end()));
  const int cell = std::max(1, 1536 / width);  // ViT-B: 2 px per channel
  const int rows = static_cast<int>(selection.blocks.size());
  const int panel = kTitleHeight + rows * (kRowHeight + kMarkHeight);
  cv::Mat image(panel * static_cast<int>(selection.parts.size()), kLabelWidth + width * cell, CV_8UC3,
                cv::Scalar(255, 255, 255));
  const auto text = [&](const std::string& s, int x, int y, double size) {
    cv::putText(image, s, {x, y}, cv::FONT_HERSHEY_SIMPLEX, size, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
  };

  for (size_t p = 0; p < selection.parts.size(); ++p) {
    const SelectionPart& part = selection.parts[p];
    const int top = static_cast<int>(p) * panel;
    text(
        part.name + " (" + part.site + "), " + to_string(selection.strategy) + ": score per channel, kept channels below each row",
        4, top + 15, 0.45);
    for (int l = 0; l < rows; ++l) {
      const at::Tensor scores = part.scores[size_t(l)].to(at::kFloat).contiguous();  // (D_l)
      const int row_width = static_cast<int>(scores.numel());
      const float* row = scores.data_ptr<float>();
      const auto [lo, hi] = std::minmax_element(row, row + row_width);
      const float range = *hi > *lo ? *hi - *lo : 1.0f;
      cv::Mat levels(1, row_width, CV_8UC1);
      for (int j = 0; j < row_width; ++j)
        levels.at<uint8_t>(0, j) = cv::saturate_cast<uint8_t>(255.0f * (row[j] - *lo) / range);
      cv::Mat colours;
      cv::applyColorMap(levels, colours, cv::COLORMAP_VIRIDIS);
      const int y = top + kTitleHeight + l * (kRowHeight + kMarkHeight);
      cv::resize(colours, image(cv::Rect(kLabelWidth, y, row_width * cell, kRowHeight)), {row_width * cell, kRowHeight}, 0,
                 0, cv::INTER_NEAREST);
      for (int64_t j : part.indices[size_t(l)])
        image(cv::Rect(kLabelWidth + int(j) * cell, y + kRowHeight, cell, kMarkHeight)).setTo(cv::Scalar(0, 0, 220));
      text("block " + std::to_string(selection.blocks[size_t(l)]), 4, y + kRowHeight - 2, 0.4);
    }
  }
  write_png(path, image);
}

}  // namespace sct
