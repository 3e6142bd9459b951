// The generated tasks of the offline transfer suite (`sct suite`), in the spirit of VTAB's structured
// group: what a frozen backbone pretrained for "what is it" must be adapted to read off -- how many,
// where, which way, how far apart -- plus one recognition task of drawn shapes. Together with the real
// fashion-mnist-1k they make a VTAB-1K-shaped benchmark that runs with no download.
//
// Each task has VTAB-1K's splits: train800val200 (1,000 images; train800 its first 800, val200 the
// rest) and a test set (2,000 by default), 32 x 32 RGB. Example i of a split is drawn from
// mt19937_64(derive_seed(seed, split stream, i)): its label uniformly first, then a scene with that
// label (random background, colours of clearly different brightness, mild pixel noise), so every
// image is reproducible on its own and any thread count gives the same task. Nothing is shared with
// the fractal pretraining source (fractal_db.h): no IFS, no fractal, no class in common.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "sct/data/image_set.h"
#include "sct/data/vtab_task.h"
#include "sct/data/vtab_task_writer.h"

namespace sct {

struct SyntheticTaskInfo {
  std::string name;
  std::string group;  // "recognition" or "structured"
  int64_t num_classes = 0;
  std::string label;  // what the label is
};

// shape-kind, shape-count, shape-position, shape-orientation, shape-distance.
const std::vector<SyntheticTaskInfo>& synthetic_tasks();
// nullptr for a name that is not a generated task.
const SyntheticTaskInfo* find_synthetic_task(const std::string& name);

struct SyntheticTask : TaskSplits {
  std::string name;
  uint64_t seed = 0;
};

// Throws sct::Error for an unknown name or a test_size < 1.
SyntheticTask draw_synthetic_task(const std::string& name, uint64_t seed = 0, int64_t test_size = 2000,
                                  int threads = 0);

// Writes the task in NOAH's layout under <root>/<name> (vtab_task_writer.h); returns the folder.
std::string write_synthetic_task(const SyntheticTask& task, const std::string& root, int threads = 0);

}  // namespace sct
