#include "sct/parallel/process_group.h"

#include <ATen/ATen.h>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#if defined(SCT_WITH_CUDA) && defined(USE_C10D_NCCL)
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <c10/util/Exception.h>

#include <cstdlib>
#include <exception>
#include <thread>

#include "sct/core/error.h"

namespace sct::parallel {
namespace {

struct Group {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroup> pg;
  WorldSpec world;
  c10::Device device = c10::kCPU;
  std::chrono::milliseconds timeout{0};
  bool collective_failed = false;  // this rank survived another's failure: not the one to blame
};

Group& group() {
  static Group g;
  return g;
}

std::optional<std::string> env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

int env_int(const char* name, int lo, int hi) {
  const std::optional<std::string> text = env(name);
  if (!text) throw Error(std::string("data-parallel launch: ") + name + " is not set (torchrun sets RANK, WORLD_SIZE, "
                         "LOCAL_RANK, MASTER_ADDR and MASTER_PORT)");
  size_t used = 0;
  long value = 0;
  try {
    value = std::stol(*text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text->size() || value < lo || value > hi)
    throw Error(std::string("data-parallel launch: ") + name + "='" + *text + "' is not an integer in [" +
                std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return int(value);
}

bool is_loopback(const std::string& host) { return host == "localhost" || host.rfind("127.", 0) == 0; }

std::shared_ptr<::gloo::transport::Device> gloo_device(const WorldSpec& w) {
  // GLOO_SOCKET_IFNAME chooses the interface as in PyTorch; a loopback rendezvous stays on loopback.
  if (const std::optional<std::string> ifname = env("GLOO_SOCKET_IFNAME"))
    return c10d::ProcessGroupGloo::createDeviceForInterface(*ifname);
  if (is_loopback(w.master_addr)) return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

std::string key(const char* what, int rank) { return std::string("sct/") + what + "/" + std::to_string(rank); }

// After a failed collective: which ranks stopped, and why where they said so.
std::string who_stopped(const std::string& what, const std::string& cause) {
  Group& g = group();
  g.collective_failed = true;
  const std::string seconds = std::to_string(g.timeout.count() / 1000);
  const std::string head = "data-parallel " + what + " failed on rank " + std::to_string(g.world.rank) + ": ";
  try {
    g.store->setTimeout(std::chrono::seconds(5));
    g.store->set(key("alive", g.world.rank), std::vector<uint8_t>{1});
    std::this_thread::sleep_for(std::chrono::seconds(2));  // the other survivors mark themselves meanwhile
    std::string named;
    for (int r = 0; r < g.world.world_size; ++r) {
      if (r == g.world.rank) continue;
      if (g.store->check({key("failed", r)})) {
        const std::vector<uint8_t> msg = g.store->get(key("failed", r));
        named += "\n  rank " + std::to_string(r) + " failed: " + std::string(msg.begin(), msg.end());
      } else if (!g.store->check({key("alive", r)})) {
        named += "\n  rank " + std::to_string(r) + " stopped (it died, was killed, or did not answer within " +
                 seconds + " s)";
      }
    }
    if (!named.empty()) return head + named.substr(3) + " [" + cause + "]";
  } catch (const std::exception&) {
    return head + "rank 0 stopped (it hosts the rendezvous store at " + g.world.master_addr + ":" +
           std::to_string(g.world.master_port) + " and no longer answers; its own output says why) [" + cause + "]";
  }
  return head + cause;
}

template <typename F>
void collective(const std::string& what, F&& run) {
  try {
    run();
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(who_stopped(what, message_of(e)));
  }
}

}  // namespace

std::string message_of(const std::exception& e) {
  const auto* c10 = dynamic_cast<const c10::Error*>(&e);
  return c10 ? c10->what_without_backtrace() : e.what();  // c10's backtrace helps no user
}

std::optional<WorldSpec> world_from_environment() {
  if (!env("WORLD_SIZE")) return std::nullopt;
  WorldSpec w;
  w.world_size = env_int("WORLD_SIZE", 1, 1 << 20);
  if (w.world_size == 1 && !env("RANK")) return w;
  w.rank = env_int("RANK", 0, w.world_size - 1);
  w.local_rank = env("LOCAL_RANK") ? env_int("LOCAL_RANK", 0, w.world_size - 1) : w.rank;
  if (w.world_size > 1) {
    const std::optional<std::string> addr = env("MASTER_ADDR");
    if (!addr || addr->empty()) throw Error("data-parallel launch: MASTER_ADDR is not set (rank 0's host name or address)");
    w.master_addr = *addr;
    w.master_port = env_int("MASTER_PORT", 1, 65535);
  }
  return w;
}

void init(const WorldSpec& world, const c10::Device& device, std::chrono::milliseconds timeout) {
  Group& g = group();
  if (g.pg) throw Error("data-parallel: this process already belongs to a group");
  if (world.world_size <= 1) return;
  c10d::TCPStoreOptions so;
  so.port = static_cast<uint16_t>(world.master_port);
  so.isServer = world.rank == 0;
  so.numWorkers = static_cast<size_t>(world.world_size);
  so.waitWorkers = true;
  so.timeout = timeout;
  try {
    g.store = c10::make_intrusive<c10d::TCPStore>(world.master_addr, so);
    if (device.is_cuda()) {
#if defined(SCT_WITH_CUDA) && defined(USE_C10D_NCCL)
      g.pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(g.store, world.rank, world.world_size,
                                                         c10d::ProcessGroupNCCL::Options::create());
#else
      throw Error("data-parallel training on " + device.str() + " needs a LibTorch built with NCCL");
#endif
    } else {
      auto options = c10d::ProcessGroupGloo::Options::create(timeout);
      options->devices.push_back(gloo_device(world));
      g.pg = c10::make_intrusive<c10d::ProcessGroupGloo>(g.store, world.rank, world.world_size, options);
    }
  } catch (const Error&) {
    g = Group{};
    throw;
  } catch (const std::exception& e) {
    g = Group{};
    throw Error("data-parallel rendezvous of rank " + std::to_string(world.rank) + " of " +
                std::to_string(world.world_size) + " at " + world.master_addr + ":" +
                std::to_string(world.master_port) + " failed within " + std::to_string(timeout.count() / 1000) +
                " s (--dist-timeout): " + message_of(e) + "; did every rank start, with the same MASTER_ADDR and MASTER_PORT?");
  }
  g.world = world;
  g.device = device;
  g.timeout = timeout;
}

void shutdown() {
  Group& g = group();
  if (!g.pg) return;
  // Rank 0 hosts the store: it must not leave before the others are done with it.
  if (std::uncaught_exceptions() == 0 && !g.collective_failed) {
    try {
      g.pg->barrier()->wait();
    } catch (const std::exception&) {
    }
  }
  g = Group{};
}

Membership::Membership(const c10::Device& device, std::chrono::milliseconds timeout) {
  if (const std::optional<WorldSpec> w = world_from_environment()) init(*w, device, timeout);
}

Membership::~Membership() { shutdown(); }

bool active() { return bool(group().pg); }
int rank() { return active() ? group().world.rank : 0; }
int world_size() { return active() ? group().world.world_size : 1; }
bool is_writer() { return rank() == 0; }
Shard shard() { return Shard{rank(), world_size()}; }

void all_reduce_sum(at::Tensor& tensor) {
  if (!active()) return;
  collective("all-reduce", [&] {
    std::vector<at::Tensor> one{tensor};
    group().pg->allreduce(one)->wait();
  });
}

void broadcast_from_writer(at::Tensor& tensor) {
  if (!active()) return;
  collective("broadcast", [&] {
    std::vector<at::Tensor> one{tensor};
    group().pg->broadcast(one)->wait();
  });
}

int64_t broadcast_from_writer(int64_t value) {
  if (!active()) return value;
  at::Tensor t = at::full({1}, value, at::TensorOptions().dtype(at::kLong).device(group().device));
  broadcast_from_writer(t);
  return t.to(at::kCPU).item<int64_t>();
}

void report_failure(const std::string& message) {
  Group& g = group();
  if (!g.pg || g.collective_failed) return;
  try {
    g.store->setTimeout(std::chrono::seconds(2));
    g.store->set(key("failed", g.world.rank), std::vector<uint8_t>(message.begin(), message.end()));
  } catch (const std::exception&) {
  }
}

}  // namespace sct::parallel
