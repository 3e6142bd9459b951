#include "sct/model/column_linear.h"

#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <ATen/record_function.h>
#include <torch/csrc/autograd/custom_function.h>

#include "sct/model/autocast.h"
#include "sct/model/frozen_linear.h"

namespace sct {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Contiguous CPU rows take one loop over the rows; anything else ATen's gather / scatter_, which read a
// broadcast (M, K) index for every element.
bool rows_loop(const at::Tensor& x, const at::Tensor& cols) {
  return x.is_cpu() && x.dim() == 2 && x.is_contiguous() && cols.is_cpu() && cols.is_contiguous();
}

at::Tensor broadcast(const at::Tensor& cols, int64_t rows) { return cols.expand({rows, cols.size(0)}); }

// The rows' K columns: both directions read or write nearly every cache line of a (M, W) stream (K = W/8
// columns spread over it), so each is one pass over memory; the loops keep that pass the only cost.
template <typename T>
void gather_rows(const T* x, int64_t width, const int64_t* cols, T* out, int64_t rows, int64_t k) {
  at::parallel_for(0, rows, std::max<int64_t>(1, (1 << 15) / std::max<int64_t>(width, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* row = x + r * width;
      T* o = out + r * k;
      for (int64_t j = 0; j < k; ++j) o[j] = row[cols[j]];
    }
  });
}
template <typename T>
void scatter_rows(const T* values, int64_t k, const int64_t* cols, T* x, int64_t width, int64_t rows) {
  at::parallel_for(0, rows, std::max<int64_t>(1, (1 << 15) / std::max<int64_t>(width, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      T* row = x + r * width;
      const T* v = values + r * k;
      for (int64_t j = 0; j < k; ++j) row[cols[j]] = v[j];
    }
  });
}

// x[:, cols] -> (M, K)
at::Tensor take_columns(const at::Tensor& x, const at::Tensor& cols) {
  RECORD_FUNCTION("sct::take_columns", {});
  if (!rows_loop(x, cols)) return x.gather(1, broadcast(cols, x.size(0)));
  const int64_t rows = x.size(0), k = cols.size(0);
  at::Tensor out = at::empty({rows, k}, x.options());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, x.scalar_type(), "take_columns", [&] {
    gather_rows(x.data_ptr<scalar_t>(), x.size(1), cols.data_ptr<int64_t>(), out.data_ptr<scalar_t>(), rows, k);
  });
  return out;
}

// x[:, cols] = values, in place; values: (M, K).
void put_columns(at::Tensor& x, const at::Tensor& cols, const at::Tensor& values) {
  RECORD_FUNCTION("sct::put_columns", {});
  const at::Tensor v = values.to(x.scalar_type()).contiguous();
  if (!rows_loop(x, cols)) {
    x.scatter_(1, broadcast(cols, x.size(0)), v);
    return;
  }
  const int64_t rows = x.size(0), k = cols.size(0);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, x.scalar_type(), "put_columns", [&] {
    scatter_rows(v.data_ptr<scalar_t>(), k, cols.data_ptr<int64_t>(), x.data_ptr<scalar_t>(), x.size(1), rows);
  });
}

// alpha x_I + beta (x_I W^T + b) from x_I = x[:, cols] already in the GEMM's dtype; in x's dtype.
at::Tensor new_columns(const at::Tensor& x_cols, const at::Tensor& x_gemm, const at::Tensor& weight,
                       const at::Tensor& bias, double alpha, double beta) {
  const at::ScalarType dtype = x_gemm.scalar_type();
  const at::Tensor r = at::addmm(bias.to(dtype), x_gemm, weight.to(dtype).t(), beta, beta).to(x_cols.scalar_type());
  return alpha == 1.0 ? r.add_(x_cols) : r.add_(x_cols, alpha);
}

// x as (M, W) rows: a view of a contiguous x.
at::Tensor rows_of(const at::Tensor& x) { return x.reshape({-1, x.size(-1)}); }

// x with its columns replaced (into x itself when `in_place`), and x[:, cols] in the GEMM's dtype (what
// backward keeps). The casts are explicit, made once; autocast would repeat them inside addmm.
std::pair<at::Tensor, at::Tensor> replace_columns(const at::Tensor& x, const at::Tensor& cols, const at::Tensor& weight,
                                                  const at::Tensor& bias, double alpha, double beta, bool in_place) {
  const at::Tensor x_cols = take_columns(rows_of(x), cols);
  const at::Tensor x_gemm = x_cols.to(pass_dtype(x_cols));
  const c10::impl::ExcludeDispatchKeyGuard no_autocast(
      c10::DispatchKeySet({c10::DispatchKey::AutocastCPU, c10::DispatchKey::AutocastCUDA}));
  at::Tensor out = in_place ? x : x.clone(at::MemoryFormat::Contiguous);
  at::Tensor out_rows = rows_of(out);
  put_columns(out_rows, cols, new_columns(x_cols, x_gemm, weight, bias, alpha, beta));
  return {out, x_gemm};
}

// Whether nothing but this reference holds t's memory: a gradient autograd handed over can then be
// rewritten in place.
bool owned(const at::Tensor& t) { return t.use_count() == 1 && t.storage().use_count() == 1 && t.is_contiguous(); }

struct LinearOnColumnsFunction : torch::autograd::Function<LinearOnColumnsFunction> {
  static at::Tensor forward(AutogradContext* ctx, at::Tensor x, const at::Tensor& cols, const at::Tensor& weight,
                            const at::Tensor& bias, double alpha, double beta, bool in_place) {
    // In place, the old values are not needed: backward reads only the kept columns.
    const auto [out, x_gemm] = replace_columns(x, cols, weight, bias, alpha, beta, in_place);
    if (in_place) ctx->mark_dirty({x});
    ctx->save_for_backward({cols, x_gemm, weight});
    ctx->saved_data["alpha"] = alpha;
    ctx->saved_data["beta"] = beta;
    ctx->saved_data["bias_dtype"] = static_cast<int64_t>(bias.scalar_type());
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &cols = saved[0], &x_gemm = saved[1], &weight = saved[2];
    const double alpha = ctx->saved_data["alpha"].toDouble(), beta = ctx->saved_data["beta"].toDouble();
    const at::Tensor& grad = grads[0];                                            // (..., W)
    const at::Tensor g = take_columns(rows_of(grad.contiguous()), cols);           // (M, K), the stream's dtype
    const at::Tensor g_r = (beta == 1.0 ? g : g * beta).to(x_gemm.scalar_type());  // d loss / d (x_I W^T + b)
    at::Tensor grad_x, grad_w, grad_b;
    if (ctx->needs_input_grad(0)) {
      grad_x = owned(grad) ? grad : grad.clone(at::MemoryFormat::Contiguous);
      const at::Tensor through_w = at::mm(g_r, weight.to(g_r.scalar_type())).to(g.scalar_type());
      at::Tensor grad_rows = rows_of(grad_x);
      put_columns(grad_rows, cols, alpha == 1.0 ? through_w.add_(g) : through_w.add_(g, alpha));
    }
    if (ctx->needs_input_grad(2)) grad_w = at::mm(g_r.t(), x_gemm).to(weight.scalar_type());
    if (ctx->needs_input_grad(3))
      grad_b = bias_gradient(g_r, static_cast<at::ScalarType>(ctx->saved_data["bias_dtype"].toInt()));
    return {grad_x, at::Tensor(), grad_w, grad_b, at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor linear_on_columns(const at::Tensor& x, const at::Tensor& cols, const at::Tensor& weight,
                             const at::Tensor& bias, double alpha, double beta, bool in_place) {
  const bool writable = in_place && x.is_contiguous();
  if (at::GradMode::is_enabled() && (x.requires_grad() || weight.requires_grad() || bias.requires_grad()))
    return LinearOnColumnsFunction::apply(x, cols, weight, bias, alpha, beta, writable);
  return replace_columns(x, cols, weight, bias, alpha, beta, writable).first;
}

}  // namespace sct
