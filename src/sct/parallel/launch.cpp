#include "sct/parallel/launch.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <optional>
#include <thread>

#include "sct/core/error.h"
#include "sct/parallel/process_group.h"
#include "sct/runtime/device.h"
#include "sct/runtime/spawn_self.h"
#include "sct/runtime/threads.h"

namespace sct::parallel {
namespace {

// A port nothing listens on now, for rank 0's store (the kernel's choice of an ephemeral port).
int free_loopback_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw Error("--nproc: cannot open a socket to find a free port");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
                  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  close(fd);
  if (!ok) throw Error("--nproc: cannot find a free loopback port");
  return ntohs(addr.sin_port);
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "was killed by signal " + std::to_string(WTERMSIG(status));
  return "ended abnormally";
}

}  // namespace

std::vector<std::string> arguments_without_nproc(int argc, char** argv) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--nproc") {
      ++i;
      continue;
    }
    if (a.rfind("--nproc=", 0) == 0) continue;
    args.push_back(a);
  }
  return args;
}

void run_local_workers(int nproc, std::vector<std::string> args, int threads_each, std::chrono::seconds grace) {
  if (nproc < 1) throw Error("--nproc must be at least 1, got " + std::to_string(nproc));
  const bool has_threads = std::any_of(args.begin(), args.end(), [](const std::string& a) {
    return a == "--threads" || a.rfind("--threads=", 0) == 0;
  });
  if (!has_threads) args.insert(args.end(), {"--threads", std::to_string(std::max(1, threads_each))});
  const std::string port = std::to_string(free_loopback_port());
  std::map<pid_t, int> running;  // pid -> rank
  for (int rank = 0; rank < nproc; ++rank) {
    const std::string r = std::to_string(rank), n = std::to_string(nproc);
    try {
      running[spawn_self(args, {{"RANK", r}, {"LOCAL_RANK", r}, {"WORLD_SIZE", n}, {"LOCAL_WORLD_SIZE", n},
                                {"MASTER_ADDR", "127.0.0.1"}, {"MASTER_PORT", port}})] = rank;
    } catch (const Error&) {
      for (const auto& [p, started] : running) kill(p, SIGKILL);
      throw Error("--nproc: cannot start worker " + r);
    }
  }
  std::optional<std::string> failure;
  std::optional<std::chrono::steady_clock::time_point> deadline;
  while (!running.empty()) {
    int status = 0;
    const pid_t pid = waitpid(-1, &status, deadline ? WNOHANG : 0);
    if (pid > 0) {
      const auto it = running.find(pid);
      if (it == running.end()) continue;
      const int rank = it->second;
      running.erase(it);
      if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0) && !failure) {
        failure = "data-parallel worker rank " + std::to_string(rank) + " of " + std::to_string(nproc) + " " +
                  describe_status(status);
        deadline = std::chrono::steady_clock::now() + grace;
      }
      continue;
    }
    if (pid < 0) break;
    if (std::chrono::steady_clock::now() > *deadline) {
      for (const auto& [p, r] : running) kill(p, SIGKILL);
      deadline = std::chrono::steady_clock::time_point::max();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (failure) throw Error(*failure + " (the run folder keeps the last complete epoch: continue it with --resume)");
}

void run_data_parallel(const LaunchOptions& options, std::string& device, int argc, char** argv,
                       const std::function<void(std::ostream& log)>& work) {
  if (options.nproc > 1) {
    if (world_from_environment())
      throw Error("--nproc " + std::to_string(options.nproc) +
                  " inside a data-parallel launch (WORLD_SIZE is set): use one or the other");
    // A worker that fails ends the others within the timeout; the grace covers that and some.
    run_local_workers(options.nproc, arguments_without_nproc(argc, argv), available_cpus() / options.nproc,
                      options.timeout + std::chrono::seconds(30));
    return;
  }
  if (options.nproc < 1) throw Error("--nproc must be at least 1, got " + std::to_string(options.nproc));
  c10::Device dev = parse_device(device);
  if (const std::optional<WorldSpec> world = world_from_environment(); world && dev.is_cuda() && !dev.has_index()) {
    dev = c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(world->local_rank));
    device = dev.str();
  }
  const Membership membership(dev, options.timeout);
  std::ostream quiet(nullptr);  // a stream without a buffer: writes go nowhere
  try {
    work(is_writer() ? std::cerr : quiet);
  } catch (const std::exception& e) {
    if (!active()) throw;
    const std::string message = message_of(e);
    report_failure(message);  // for the other ranks' messages
    throw Error("rank " + std::to_string(rank()) + " of " + std::to_string(world_size()) + ": " + message);
  }
}

}  // namespace sct::parallel
