// `sct info`: what this machine gives sct, so that slow runs can be explained before they start.
#include <ATen/Parallel.h>
#include <torch/version.h>

#include <CLI/CLI.hpp>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "sct/cli/commands.h"
#include "sct/runtime/blas.h"
#include "sct/runtime/device.h"
#include "sct/runtime/precision.h"
#include "sct/runtime/threads.h"

namespace sct::cli {
namespace {

std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  for (std::string line; std::getline(f, line);)
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}

struct InfoFlags {
  bool json = false;
  int threads = 0;
  double seconds = 1.5;
  std::string device = "cpu";
};

void run_info(const InfoFlags& flags) {
  const c10::Device device = parse_device(flags.device);  // so `--device cuda` fails clearly here too
  const int threads = configure_threads(flags.threads);
  const BlasStatus blas = blas_status();
  const double gflops = measure_gemm_gflops(flags.seconds);
  const double bf16_gflops = measure_gemm_gflops(flags.seconds, 1024, at::kBFloat16);
  const std::string isa = cpu_bf16_isa();
  std::ostringstream quiet;
  const Precision automatic = resolve_precision(Precision::automatic, device, quiet);
  const bool cuda = cuda_available();
  nlohmann::json devices = nlohmann::json::array({"cpu"});
  for (int i = 0; cuda && i < cuda_device_count(); ++i) devices.push_back("cuda:" + std::to_string(i));

  nlohmann::json j = {
      {"sct_version", "0.1.0"},
      {"libtorch_version", TORCH_VERSION},
      {"cpu", cpu_model()},
      {"available_cpus", available_cpus()},
      {"threads", threads},
      {"blas",
       {{"library", blas.is_openblas ? "OpenBLAS" : "other"},
        {"core", blas.core},
        {"cpu_best_core", blas.cpu_best_core},
        {"replaced_core", blas.replaced_core},
        {"gemm_check", blas.kernels_verified ? "ok" : "FAILED"}}},
      {"sgemm_gflops", std::round(gflops * 10) / 10},
      {"bf16_gemm_gflops", std::round(bf16_gflops * 10) / 10},
      {"cpu_bf16_isa", isa.empty() ? "none" : isa},
      {"precision_auto", to_string(automatic)},
      {"cuda_available", cuda},
      {"devices", devices},
      {"device", device.str()},
  };
  if (flags.json) {
    std::cout << j.dump() << "\n";
    return;
  }
  std::cout << "sct 0.1.0, LibTorch " << TORCH_VERSION << "\n"
            << "cpu      " << j["cpu"].get<std::string>() << ", " << available_cpus() << " CPU(s) available\n"
            << "threads  " << threads << "\n"
            << "blas     " << (blas.is_openblas ? "OpenBLAS, core " + blas.core : std::string("not OpenBLAS"));
  if (!blas.replaced_core.empty()) std::cout << " (sct replaced " << blas.replaced_core << ")";
  std::cout << ", GEMM check " << (blas.kernels_verified ? "ok" : "FAILED") << "\n"
            << "sgemm    " << std::fixed << std::setprecision(1) << gflops << " GFLOPS (1024^3, " << threads
            << " threads)\n"
            << "bf16     " << bf16_gflops << " GFLOPS GEMM; native bf16 ISA: " << (isa.empty() ? "none" : isa)
            << "; --precision auto = " << to_string(automatic) << " on " << device.str() << "\n"
            << "cuda     " << (cuda ? "available" : "not available") << "\n"
            << "devices  " << devices.dump() << "\n";
}

}  // namespace

void add_info_command(CLI::App& app) {
  auto flags = std::make_shared<InfoFlags>();
  CLI::App* cmd = app.add_subcommand("info", "LibTorch, threads, BLAS kernels, measured GEMM speed, devices");
  cmd->add_flag("--json", flags->json, "one line of JSON");
  cmd->add_option("--threads", flags->threads, "CPU threads (default: every CPU this process may use)");
  cmd->add_option("--device", flags->device, "cpu, cuda or cuda:N (checked)")->capture_default_str();
  cmd->add_option("--seconds", flags->seconds, "how long to measure sgemm")->capture_default_str();
  cmd->callback([flags] { run_info(*flags); });
}

}  // namespace sct::cli
