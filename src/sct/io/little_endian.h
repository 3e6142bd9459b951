// Fixed-width fields of the little-endian file formats sct reads (zip, npy, pickle, safetensors).
#pragma once
#include <cstdint>
#include <cstring>

namespace sct {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "sct's file readers assume a little-endian host");

// The T stored little-endian at p, which need not be aligned.
template <typename T>
T read_le(const void* p) {
  T value;
  std::memcpy(&value, p, sizeof(T));
  return value;
}

}  // namespace sct
