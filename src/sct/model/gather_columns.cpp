#include "sct/model/gather_columns.h"

#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>

namespace sct {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

bool rows_loop(const at::Tensor& x, const at::Tensor& cols) {
  return x.is_cpu() && x.dim() == 2 && x.is_contiguous() && cols.is_cpu() && cols.is_contiguous();
}

at::Tensor broadcast(const at::Tensor& cols, int64_t rows) { return cols.expand({rows, cols.size(0)}); }

// dst rows (of dst_width) at dst_cols from src rows (of src_width) at src_cols, for every pair of the K.
template <typename T>
void copy_columns(const T* src, int64_t src_width, const int64_t* src_cols, T* dst, int64_t dst_width,
                  const int64_t* dst_cols, int64_t rows, int64_t k) {
  at::parallel_for(0, rows, std::max<int64_t>(1, (1 << 15) / std::max<int64_t>(src_width, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t j = 0; j < k; ++j)
        dst[r * dst_width + (dst_cols ? dst_cols[j] : j)] = src[r * src_width + (src_cols ? src_cols[j] : j)];
  });
}

at::Tensor take_columns(const at::Tensor& x, const at::Tensor& cols) {
  if (!rows_loop(x, cols)) return x.gather(1, broadcast(cols, x.size(0)));
  const int64_t rows = x.size(0), k = cols.size(0);
  at::Tensor out = at::empty({rows, k}, x.options());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, x.scalar_type(), "gather_columns", [&] {
    copy_columns(x.data_ptr<scalar_t>(), x.size(1), cols.data_ptr<int64_t>(), out.data_ptr<scalar_t>(), k, nullptr,
                 rows, k);
  });
  return out;
}

struct GatherColumnsFunction : torch::autograd::Function<GatherColumnsFunction> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& cols) {
    ctx->save_for_backward({cols});
    ctx->saved_data["width"] = x.size(1);
    ctx->saved_data["dtype"] = static_cast<int64_t>(x.scalar_type());
    return take_columns(x, cols);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const at::Tensor cols = ctx->get_saved_variables()[0];
    const auto dtype = static_cast<at::ScalarType>(ctx->saved_data["dtype"].toInt());
    const at::Tensor g = grads[0].to(dtype);  // (M, K)
    const at::Tensor grad_x = at::zeros({g.size(0), ctx->saved_data["width"].toInt()}, g.options())
                                  .scatter_add_(1, broadcast(cols, g.size(0)), g);
    return {grad_x, at::Tensor()};
  }
};

}  // namespace

at::Tensor gather_columns(const at::Tensor& x, const at::Tensor& cols) {
  if (!at::GradMode::is_enabled() || !x.requires_grad()) return take_columns(x, cols);
  return GatherColumnsFunction::apply(x, cols);
}

void put_columns_(at::Tensor& x, const at::Tensor& cols, const at::Tensor& values) {
  const at::Tensor v = values.to(x.scalar_type()).contiguous();
  const bool tracked = at::GradMode::is_enabled() && (x.requires_grad() || v.requires_grad());
  if (tracked || !rows_loop(x, cols)) {
    x.scatter_(1, broadcast(cols, x.size(0)), v);
    return;
  }
  const int64_t rows = x.size(0), k = cols.size(0);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, x.scalar_type(), "put_columns_", [&] {
    copy_columns(v.data_ptr<scalar_t>(), k, nullptr, x.data_ptr<scalar_t>(), x.size(1), cols.data_ptr<int64_t>(),
                 rows, k);
  });
}

}  // namespace sct
