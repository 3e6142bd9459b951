// Data parallelism over PyTorch's own c10d, as torchrun and DDP use it: a TCPStore hosted by rank 0
// for the rendezvous, ProcessGroupGloo on the CPU, ProcessGroupNCCL on CUDA (where LibTorch has it).
//
// One group per process, like torch.distributed's default group: the trainer, the channel selector
// and evaluation ask `parallel::active()` and reduce through it, so the code that runs alone is the
// code that runs in a group. Rank 0 is the writer: only it writes run folders and prints results.
//
// A collective that fails (a rank died, or did not answer within the timeout) throws sct::Error
// naming the ranks that stopped: each surviving rank marks itself in the store, and a rank that
// failed by itself leaves its message there (report_failure) before it exits.
#pragma once
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <chrono>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>

#include "sct/data/shard.h"

namespace sct::parallel {

struct WorldSpec {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
};

// torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT); nullopt when
// WORLD_SIZE is unset. Throws sct::Error naming the variable that is missing or malformed.
std::optional<WorldSpec> world_from_environment();

// Joins the group (every rank must call it); alone (world_size 1) it does nothing. Throws sct::Error
// when the rendezvous fails within `timeout`, which also bounds every later collective.
void init(const WorldSpec& world, const c10::Device& device, std::chrono::milliseconds timeout);
void shutdown();  // leaves the group; a later init() may join another

// Joins the group described by the environment for as long as it lives, if there is one.
class Membership {
 public:
  Membership(const c10::Device& device, std::chrono::milliseconds timeout);
  ~Membership();
  Membership(const Membership&) = delete;
  Membership& operator=(const Membership&) = delete;
};

bool active();       // in a group of more than one process
int rank();          // 0 alone
int world_size();    // 1 alone
bool is_writer();    // rank 0: the one process that writes files and prints results
Shard shard();       // this rank's piece of the data

// Collectives: every rank calls them in the same order with a tensor of the same shape and dtype
// (one tensor per call: c10d's list is one tensor per device); alone they do nothing. In place.
void all_reduce_sum(at::Tensor& tensor);
void broadcast_from_writer(at::Tensor& tensor);
int64_t broadcast_from_writer(int64_t value);

// An exception's message; c10's without its C++ backtrace.
std::string message_of(const std::exception& e);

// Leaves `message` in the store for the other ranks' error messages, before this rank exits with an
// error. Best effort and quick: does nothing alone or when the store is gone.
void report_failure(const std::string& message);

}  // namespace sct::parallel
