#include "sct/model/gather_columns.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

namespace sct {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct GatherColumnsFunction : torch::autograd::Function<GatherColumnsFunction> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& index) {
    ctx->save_for_backward({index});
    ctx->saved_data["width"] = x.size(1);
    ctx->saved_data["dtype"] = static_cast<int64_t>(x.scalar_type());
    return x.gather(1, index);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const at::Tensor index = ctx->get_saved_variables()[0];
    const at::Tensor& g = grads[0];  // (M, K)
    const at::Tensor grad_x =
        at::zeros({g.size(0), ctx->saved_data["width"].toInt()},
                  g.options().dtype(static_cast<at::ScalarType>(ctx->saved_data["dtype"].toInt())))
            .scatter_add_(1, index, g.to(static_cast<at::ScalarType>(ctx->saved_data["dtype"].toInt())));
    return {grad_x, at::Tensor()};
  }
};

}  // namespace

at::Tensor gather_columns(const at::Tensor& x, const at::Tensor& index) {
  if (!at::GradMode::is_enabled() || !x.requires_grad()) return x.gather(1, index);
  return GatherColumnsFunction::apply(x, index);
}

}  // namespace sct
