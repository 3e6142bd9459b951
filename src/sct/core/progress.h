// Training progress on a terminal: one self-overwriting line per step (epoch, step, loss, lr,
// images/s, ETA) on a TTY; on anything else (a log file, CI) only the whole lines the trainer prints
// per epoch, so logs stay readable.
#pragma once
#include <cstdint>
#include <iosfwd>
#include <string>

namespace sct {

// "42s", "3:07", "1:02:03" (negative or non-finite: "?").
std::string format_duration(double seconds);

class ProgressBar {
 public:
  ProgressBar(std::ostream& out, bool interactive, int64_t epochs, int64_t steps_per_epoch);
  ~ProgressBar();  // ends a pending step line

  // Epoch and step counted from 0 (shown from 1). Ignored when not interactive.
  void step(int64_t epoch, int64_t step, double loss, double lr, double images_per_s, double eta_seconds);
  // A complete line; on a TTY it replaces the step line.
  void line(const std::string& text);

 private:
  std::ostream& out_;
  bool interactive_;
  int64_t epochs_, steps_per_epoch_;
  bool pending_ = false;  // a step line without its newline is on screen
};

// Whether standard error is a terminal.
bool stderr_is_tty();

}  // namespace sct
