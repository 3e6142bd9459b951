// The --nproc launcher's argument handling, and torchrun's environment as sct reads it.
#include "sct/parallel/launch.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "sct/parallel/process_group.h"
#include "test_util.h"

namespace sct {
namespace {

TEST(Launch, WorkersGetTheCommandLessNproc) {
  const char* argv[] = {"sct", "train", "--nproc", "2", "--task", "t", "--nproc=3", "--out", "r"};
  char** args = const_cast<char**>(argv);
  EXPECT_EQ(parallel::arguments_without_nproc(9, args),
            (std::vector<std::string>{"train", "--task", "t", "--out", "r"}));
}

// Sets the variables for one test and restores the environment after.
struct Environment {
  explicit Environment(std::vector<std::pair<const char*, const char*>> vars) {
    for (const char* name : {"RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"}) unsetenv(name);
    for (const auto& [name, value] : vars) setenv(name, value, 1);
  }
  ~Environment() {
    for (const char* name : {"RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"}) unsetenv(name);
  }
};

TEST(Launch, TorchrunEnvironmentIsReadAndCheckedByName) {
  {
    const Environment none({});
    EXPECT_FALSE(parallel::world_from_environment().has_value());
  }
  {
    const Environment two({{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "10.0.0.1"}, {"MASTER_PORT", "29500"}});
    const auto w = parallel::world_from_environment();
    ASSERT_TRUE(w.has_value());
    EXPECT_EQ(w->rank, 1);
    EXPECT_EQ(w->world_size, 2);
    EXPECT_EQ(w->local_rank, 1);  // LOCAL_RANK defaults to RANK
    EXPECT_EQ(w->master_addr, "10.0.0.1");
    EXPECT_EQ(w->master_port, 29500);
  }
  {
    const Environment no_addr({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_PORT", "29500"}});
    test::expect_error([] { parallel::world_from_environment(); }, {"MASTER_ADDR is not set"});
  }
  {
    const Environment bad_port({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "80x"}});
    test::expect_error([] { parallel::world_from_environment(); }, {"MASTER_PORT='80x' is not an integer in [1, 65535]"});
  }
  {
    const Environment no_rank({std::make_pair("WORLD_SIZE", "3")});
    test::expect_error([] { parallel::world_from_environment(); }, {"RANK is not set"});
  }
}

}  // namespace
}  // namespace sct
