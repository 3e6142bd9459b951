// The arithmetic a model runs in: `--precision fp32|bf16|auto`.
//
// bf16 is mixed precision (model/autocast.h): GEMMs in bfloat16, everything a gradient or a statistic
// accumulates in float32. It pays only where the hardware multiplies bf16 natively: on CPUs with AMX-BF16
// or AVX512-BF16 oneDNN runs bf16 GEMM at 2-4x fp32's rate; elsewhere LibTorch emulates it, correctly
// but slower than fp32. `auto` therefore picks bf16 only where it is native.
#pragma once
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <iosfwd>
#include <string>

namespace sct {

enum class Precision { fp32, bf16, automatic };

// "fp32", "bf16" or "auto"; anything else is an sct::Error naming the accepted values.
Precision parse_precision(const std::string& name);
std::string to_string(Precision p);

// What the CPU multiplies bf16 with natively: "amx_bf16", "avx512_bf16" or "" (none). Read from the
// kernel's view of the CPU (/proc/cpuinfo flags, which also say the OS enabled the state AMX needs).
// SCT_CPU_BF16=none|avx512_bf16|amx_bf16 overrides it, so that either path can be tested anywhere.
std::string cpu_bf16_isa();

// Whether `device` runs bf16 GEMM natively: a CPU with cpu_bf16_isa(), or a CUDA GPU of compute
// capability 8.0 or newer (Ampere onward).
bool native_bf16(const c10::Device& device);

// The precision to run: `automatic` becomes bf16 where native_bf16(device), else fp32. An explicit bf16
// where it is not native still runs (LibTorch emulates it, with the same results) but `log` gets a
// warning that says it is slower than fp32 there. Never returns `automatic`.
Precision resolve_precision(Precision requested, const c10::Device& device, std::ostream& log);

// float32 or bfloat16.
c10::ScalarType compute_dtype(Precision p);

}  // namespace sct
