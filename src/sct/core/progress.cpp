#include "sct/core/progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <ostream>

namespace sct {

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const long long s = std::llround(seconds);
  char buf[32];
  if (s < 60)
    std::snprintf(buf, sizeof(buf), "%llds", s);
  else if (s < 3600)
    std::snprintf(buf, sizeof(buf), "%lld:%02lld", s / 60, s % 60);
  else
    std::snprintf(buf, sizeof(buf), "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
  return buf;
}

ProgressBar::ProgressBar(std::ostream& out, bool interactive, int64_t epochs, int64_t steps_per_epoch)
    : out_(out), interactive_(interactive), epochs_(epochs), steps_per_epoch_(steps_per_epoch) {}

ProgressBar::~ProgressBar() {
  if (pending_) out_ << '\n' << std::flush;
}

void ProgressBar::step(int64_t epoch, int64_t step, double loss, double lr, double images_per_s, double eta_seconds) {
  if (!interactive_) return;
  char buf[192];
  std::snprintf(buf, sizeof(buf), "epoch %lld/%lld step %lld/%lld loss %.4f lr %.3e %.1f img/s ETA %s",
                static_cast<long long>(epoch + 1), static_cast<long long>(epochs_), static_cast<long long>(step + 1),
                static_cast<long long>(steps_per_epoch_), loss, lr, images_per_s, format_duration(eta_seconds).c_str());
  out_ << "\r" << buf << "\x1b[K" << std::flush;  // carriage return, text, clear the rest of the line
  pending_ = true;
}

void ProgressBar::line(const std::string& text) {
  if (pending_) out_ << "\r\x1b[K";
  pending_ = false;
  out_ << text << '\n' << std::flush;
}

bool stderr_is_tty() { return ::isatty(STDERR_FILENO) == 1; }

}  // namespace sct
