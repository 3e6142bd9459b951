// FIPS 180-4 test vectors, and chunking must not change the digest.
#include <gtest/gtest.h>

#include "sct/core/sha256.h"

namespace sct {
namespace {

std::string digest(const std::string& s) {
  Sha256 h;
  h.update(s);
  return h.hex_digest();
}

TEST(Sha256, StandardVectors) {
  EXPECT_EQ(digest(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(digest("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(digest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(digest(std::string(1000000, 'a')), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, ChunkingDoesNotMatter) {
  std::string s;
  for (int i = 0; i < 1000; ++i) s += char(i * 7);
  Sha256 h;
  for (size_t pos = 0, step = 1; pos < s.size(); pos += step, step = step % 97 + 13)
    h.update(s.data() + pos, std::min(step, s.size() - pos));
  EXPECT_EQ(h.hex_digest(), digest(s));
}

}  // namespace
}  // namespace sct
