// One exception type for every user-facing failure: the message names the file, line or tensor.
#pragma once
#include <stdexcept>
#include <string>

namespace sct {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace sct
