#include "sct/runtime/precision.h"

#include <cstdlib>
#include <fstream>
#include <ostream>
#include <sstream>

#include "sct/core/error.h"
#include "sct/runtime/device.h"

namespace sct {

Precision parse_precision(const std::string& name) {
  if (name == "fp32") return Precision::fp32;
  if (name == "bf16") return Precision::bf16;
  if (name == "auto") return Precision::automatic;
  throw Error("unknown precision '" + name + "': expected fp32, bf16 or auto");
}

std::string to_string(Precision p) {
  switch (p) {
    case Precision::fp32: return "fp32";
    case Precision::bf16: return "bf16";
    case Precision::automatic: return "auto";
  }
  return "?";
}

std::string cpu_bf16_isa() {
  if (const char* forced = std::getenv("SCT_CPU_BF16")) {
    const std::string v = forced;
    if (v == "none") return "";
    if (v == "amx_bf16" || v == "avx512_bf16") return v;
    throw Error("SCT_CPU_BF16='" + v + "': expected none, avx512_bf16 or amx_bf16");
  }
  std::ifstream f("/proc/cpuinfo");
  for (std::string line; std::getline(f, line);) {
    if (line.rfind("flags", 0) != 0) continue;
    bool amx = false, avx512 = false;
    std::istringstream words(line.substr(line.find(':') + 1));
    for (std::string w; words >> w;) {
      amx = amx || w == "amx_bf16";
      avx512 = avx512 || w == "avx512_bf16";
    }
    return amx ? "amx_bf16" : avx512 ? "avx512_bf16" : "";
  }
  return "";
}

bool native_bf16(const c10::Device& device) {
  if (device.is_cpu()) return !cpu_bf16_isa().empty();
  if (device.is_cuda()) return cuda_compute_capability(device.index()) >= 80;
  return false;
}

Precision resolve_precision(Precision requested, const c10::Device& device, std::ostream& log) {
  const bool native = native_bf16(device);
  if (requested == Precision::automatic) return native ? Precision::bf16 : Precision::fp32;
  if (requested == Precision::bf16 && !native)
    log << "warning: --precision bf16 on " << device.str()
        << ", which has no native bf16 arithmetic (CPU: neither AMX-BF16 nor AVX512-BF16; GPU: before Ampere): "
           "it is emulated, with the same results, but slower than fp32; --precision auto picks fp32 here\n";
  return requested;
}

c10::ScalarType compute_dtype(Precision p) { return p == Precision::bf16 ? c10::kBFloat16 : c10::kFloat; }

}  // namespace sct
