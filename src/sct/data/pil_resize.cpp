#include "sct/data/pil_resize.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "sct/core/error.h"

namespace sct {
namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;  // 8 bits of result, 2 bits of headroom for overshoot
constexpr int32_t kHalf = 1 << (kPrecisionBits - 1);

// Keys' cubic convolution kernel with a = -0.5.
double cubic(double x) {
  constexpr double a = -0.5;
  x = std::abs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
  if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
  return 0.0;
}

// For every output index along one axis: the first input index and the fixed-point weights of its
// taps, stored with a common stride (`taps`) so the inner loops index a flat array.
struct AxisFilter {
  int taps = 0;
  std::vector<int> first;       // (out)
  std::vector<int> count;       // (out) taps actually used, <= taps
  std::vector<int32_t> weight;  // (out, taps), zero beyond count
};

AxisFilter make_axis_filter(int in_size, int out_size) {
  const double scale = static_cast<double>(in_size) / out_size;
  const double stretch = std::max(scale, 1.0);  // widen the kernel only when shrinking
  const double support = 2.0 * stretch;
  const double inv_stretch = 1.0 / stretch;  // multiplied, not divided: the same rounding as PIL
  AxisFilter f;
  f.taps = static_cast<int>(std::ceil(support)) * 2 + 1;
  f.first.resize(out_size);
  f.count.resize(out_size);
  f.weight.assign(static_cast<size_t>(out_size) * f.taps, 0);
  std::vector<double> w(f.taps);
  for (int i = 0; i < out_size; ++i) {
    const double center = (i + 0.5) * scale;
    // int() truncates toward zero, as PIL's casts do; the clamps make the difference irrelevant.
    const int lo = std::max(static_cast<int>(center - support + 0.5), 0);
    const int hi = std::min(static_cast<int>(center + support + 0.5), in_size);
    const int n = hi - lo;
    double sum = 0.0;
    for (int t = 0; t < n; ++t) {
      w[t] = cubic((t + lo - center + 0.5) * inv_stretch);
      sum += w[t];
    }
    for (int t = 0; t < n; ++t) {
      const double normalised = sum != 0.0 ? w[t] / sum : w[t];
      const double fixed = normalised * (1 << kPrecisionBits);
      f.weight[static_cast<size_t>(i) * f.taps + t] = static_cast<int32_t>(fixed < 0 ? fixed - 0.5 : fixed + 0.5);
    }
    f.first[i] = lo;
    f.count[i] = n;
  }
  return f;
}

// Floor of the fixed-point sum, clipped to a byte.
inline uint8_t to_byte(int32_t acc) {
  const int32_t v = acc >> kPrecisionBits;  // arithmetic shift: floor, also for negative sums
  return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

// Rows [row0, row0 + rows) of src, filtered along x into dst (rows x out_width, same channels).
template <int C>
void horizontal_pass(const cv::Mat& src, int row0, const AxisFilter& f, cv::Mat& dst) {
  const int out_width = dst.cols;
  for (int y = 0; y < dst.rows; ++y) {
    const uint8_t* in = src.ptr<uint8_t>(row0 + y);
    uint8_t* __restrict out = dst.ptr<uint8_t>(y);
    for (int x = 0; x < out_width; ++x) {
      const int32_t* k = &f.weight[static_cast<size_t>(x) * f.taps];
      const uint8_t* p = in + f.first[x] * C;
      const int n = f.count[x];
      int32_t acc[C];
      for (int c = 0; c < C; ++c) acc[c] = kHalf;
      for (int t = 0; t < n; ++t)
        for (int c = 0; c < C; ++c) acc[c] += p[t * C + c] * k[t];
      for (int c = 0; c < C; ++c) out[x * C + c] = to_byte(acc[c]);
    }
  }
}

// src filtered along y into dst; row r of src is input row r + row_offset of the original image.
void vertical_pass(const cv::Mat& src, int row_offset, const AxisFilter& f, cv::Mat& dst) {
  const int row_len = dst.cols * dst.channels();
  thread_local std::vector<int32_t> acc_buffer;  // reused: see the scratch image below
  acc_buffer.resize(row_len);
  // __restrict: uint8_t may alias anything, and without it the compiler cannot vectorise the loops.
  int32_t* __restrict acc = acc_buffer.data();
  for (int y = 0; y < dst.rows; ++y) {
    std::fill(acc, acc + row_len, kHalf);
    const int32_t* k = &f.weight[static_cast<size_t>(y) * f.taps];
    // Taps outer, pixels inner: contiguous rows.
    for (int t = 0; t < f.count[y]; ++t) {
      const uint8_t* __restrict in = src.ptr<uint8_t>(f.first[y] - row_offset + t);
      const int32_t w = k[t];
      for (int i = 0; i < row_len; ++i) acc[i] += in[i] * w;
    }
    uint8_t* __restrict out = dst.ptr<uint8_t>(y);
    for (int i = 0; i < row_len; ++i) out[i] = to_byte(acc[i]);
  }
}

void dispatch_horizontal(const cv::Mat& src, int row0, const AxisFilter& f, cv::Mat& dst) {
  switch (src.channels()) {
    case 1:
      horizontal_pass<1>(src, row0, f, dst);
      break;
    case 3:
      horizontal_pass<3>(src, row0, f, dst);
      break;
    default:
      horizontal_pass<4>(src, row0, f, dst);
      break;
  }
}

}  // namespace

void pil_resize_bicubic(const cv::Mat& src, cv::Mat& dst) {
  if (src.empty()) throw Error("pil_resize_bicubic: empty input image");
  if (src.depth() != CV_8U || (src.channels() != 1 && src.channels() != 3 && src.channels() != 4))
    throw Error("pil_resize_bicubic: expected an 8-bit image with 1, 3 or 4 channels, got type " +
                std::to_string(src.type()));
  const int width = dst.cols, height = dst.rows;
  if (width <= 0 || height <= 0 || dst.type() != src.type())
    throw Error("pil_resize_bicubic: output " + std::to_string(width) + "x" + std::to_string(height) + " type " +
                std::to_string(dst.type()) + " must be non-empty and of the input's type " +
                std::to_string(src.type()));
  if (width == src.cols && height == src.rows) {
    src.copyTo(dst);
    return;
  }

  const AxisFilter fy = make_axis_filter(src.rows, height);
  if (width == src.cols) {
    vertical_pass(src, 0, fy, dst);
    return;
  }
  const AxisFilter fx = make_axis_filter(src.cols, width);
  if (height == src.rows) {
    dispatch_horizontal(src, 0, fx, dst);
    return;
  }
  // Only the input rows some output row reads need the horizontal pass. The intermediate image is
  // per-thread scratch: a fresh allocation of this size per image costs more in page faults than the
  // filtering itself.
  const int first = fy.first.front();
  const int last = fy.first.back() + fy.count.back();
  thread_local std::vector<uint8_t> scratch;
  scratch.resize(static_cast<size_t>(last - first) * width * src.channels());
  cv::Mat tmp(last - first, width, src.type(), scratch.data());
  dispatch_horizontal(src, first, fx, tmp);
  vertical_pass(tmp, first, fy, dst);
}

cv::Mat pil_resize_bicubic(const cv::Mat& src, int width, int height) {
  if (width <= 0 || height <= 0)
    throw Error("pil_resize_bicubic: output size " + std::to_string(width) + "x" + std::to_string(height) +
                " must be positive");
  cv::Mat out(height, width, src.type());
  pil_resize_bicubic(src, out);
  return out;
}

}  // namespace sct
