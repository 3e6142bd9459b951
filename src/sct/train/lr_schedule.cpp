#include "sct/train/lr_schedule.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "sct/core/error.h"

namespace sct {

void CosineSchedule::validate() const {
  if (!(lr >= 0.0) || !(warmup_lr_init >= 0.0) || !(lr_min >= 0.0))
    throw Error("learning rates must be >= 0 (lr " + std::to_string(lr) + ", warmup_lr " +
                std::to_string(warmup_lr_init) + ", min_lr " + std::to_string(lr_min) + ")");
  if (t_initial < 1) throw Error("schedule length must be >= 1 epoch, got " + std::to_string(t_initial));
  if (warmup_t < 0) throw Error("warmup epochs must be >= 0, got " + std::to_string(warmup_t));
}

double CosineSchedule::at(int64_t t) const {
  // Same operation order as timm (the per-epoch increment first), so values agree to the last bit.
  if (t < warmup_t) return warmup_lr_init + double(t) * ((lr - warmup_lr_init) / double(warmup_t));
  if (t >= t_initial) return lr_min;  // timm: cycle index 1 >= cycle_limit 1
  return lr_min + 0.5 * (lr - lr_min) * (1.0 + std::cos(M_PI * double(t) / double(t_initial)));
}

double CosineSchedule::epoch_lr(int64_t epoch) const { return at(std::max<int64_t>(epoch - 1, 0)); }

}  // namespace sct
