// SHA-256 (FIPS 180-4), used to fingerprint backbones so a task file refuses the wrong one.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace sct {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t size);
  void update(const std::string& s) { update(s.data(), s.size()); }
  std::string hex_digest();  // finishes the hash; call once

 private:
  void compress(const uint8_t* block);
  std::array<uint32_t, 8> h_;
  std::array<uint8_t, 64> buffer_{};
  size_t buffered_ = 0;
  uint64_t total_bytes_ = 0;
};

}  // namespace sct
