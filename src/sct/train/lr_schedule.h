// The learning-rate schedule of the SCT reference: timm 0.6.5's CosineLRScheduler (one cycle, no noise,
// k_decay 1, warmup_prefix False), stepped once per epoch after the epoch (SCT-REFERENCE.md §3).
//
//   lr(t) = warmup_lr_init + t (lr - warmup_lr_init) / warmup_t          t < warmup_t
//   lr(t) = lr_min + 0.5 (lr - lr_min) (1 + cos(pi t / t_initial))       warmup_t <= t < t_initial
//   lr(t) = lr_min                                                        t >= t_initial (cycle over)
//
// With warmup_prefix False timm does NOT shift t by warmup_t in the cosine part: the cosine is
// evaluated at the absolute t, so at t = warmup_t it is already slightly below lr.
#pragma once
#include <cstdint>

namespace sct {

struct CosineSchedule {
  double lr = 1e-3;         // the peak (base) learning rate
  int64_t t_initial = 100;  // cycle length in epochs (the run's epoch count in the reference)
  int64_t warmup_t = 10;    // warmup epochs
  double warmup_lr_init = 1e-6;
  double lr_min = 1e-5;

  void validate() const;  // throws sct::Error on negative rates or lengths

  // timm's _get_lr(t).
  double at(int64_t t) const;

  // The learning rate epoch `epoch` (counted from 0) trains at: at(max(epoch - 1, 0)).
  // Why the shift: the reference builds the scheduler before training, and timm's constructor
  // already writes warmup_lr_init = at(0) into the optimizer; after each epoch `ep` the loop calls
  // scheduler.step(ep) (not ep + 1), which sets at(ep) for the NEXT epoch. So epoch 0 trains at
  // at(0) from the constructor, epoch 1 at at(0) again from step(0), epoch e at at(e - 1), and at(99)
  // is never used in a 100-epoch run.
  double epoch_lr(int64_t epoch) const;
};

}  // namespace sct
