// A run's training curve as a PNG: training loss, and training / evaluation top-1, per epoch.
#pragma once
#include <string>
#include <vector>

#include "sct/train/metrics.h"

namespace sct {

// Two panels side by side, epochs on the x axis. Written atomically. Throws sct::Error for no epochs.
void write_training_curve(const std::vector<EpochMetrics>& epochs, const std::string& eval_name,
                          const std::string& title, const std::string& path);

}  // namespace sct
