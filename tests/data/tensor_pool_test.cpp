#include "sct/data/tensor_pool.h"

#include <gtest/gtest.h>

#include "data_test_util.h"

namespace sct {
namespace {

TEST(TensorPool, ReusesOnlyTensorsNobodyReferences) {
  TensorPool pool({4, 3}, at::kFloat, 2);
  at::Tensor a = pool.acquire(4);
  EXPECT_EQ(a.sizes(), (std::vector<int64_t>{4, 3}));
  const void* a_data = a.data_ptr();
  at::Tensor b = pool.acquire(4);
  EXPECT_NE(b.data_ptr(), a_data);  // a is still held

  at::Tensor view = a.narrow(0, 1, 2);
  a.reset();
  at::Tensor c = pool.acquire(4);
  EXPECT_NE(c.data_ptr(), a_data);  // a's storage still referenced through a view

  view.reset();
  at::Tensor d = pool.acquire(2);  // now free again: reused, narrowed to the rows asked for
  EXPECT_EQ(d.data_ptr(), a_data);
  EXPECT_EQ(d.sizes(), (std::vector<int64_t>{2, 3}));
  EXPECT_TRUE(d.is_contiguous());
  test::expect_error([&] { pool.acquire(5); }, {"5 rows requested of 4"});
}

}  // namespace
}  // namespace sct
