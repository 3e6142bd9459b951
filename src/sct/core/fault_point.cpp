#include "sct/core/fault_point.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>

namespace sct {

void fault_point(const char* name) {
  static const char* spec = std::getenv("SCT_FAULT_POINT");
  if (spec == nullptr) return;
  static const std::string point = std::string(spec).substr(0, std::string(spec).find(':'));
  static const long nth = std::strchr(spec, ':') ? std::atol(std::strchr(spec, ':') + 1) : 1;
  static std::atomic<long> reached{0};
  if (point == name && ++reached == nth) kill(getpid(), SIGKILL);
}

}  // namespace sct
