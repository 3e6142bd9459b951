// Named places where a test can kill sct as `kill -9` would, at exactly that moment: with
// SCT_FAULT_POINT=NAME[:N] in the environment, the N-th time (default 1) the process reaches
// fault_point("NAME") it sends itself SIGKILL. Nothing happens without the variable.
// The points: train-step (after an optimizer step), epoch-end (after the training state of an epoch
// is saved), final-eval (before the last epoch's evaluation), result-write (between the trained
// tensors and result.json), task-write (inside the task folder's write, between its two files),
// summary-write (before the run's summary.json).
#pragma once

namespace sct {

void fault_point(const char* name);

}  // namespace sct
