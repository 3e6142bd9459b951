// Writes labelled in-memory images as a task in NOAH's VTAB-1K layout (vtab_task.h), so the tasks sct
// makes itself (fashion-mnist-1k, the generated suite tasks) are read by the same loader as VTAB:
//
//   <root>/<name>/{train800,val200,train800val200,test}.txt, images/<split>/NNNNNN.png
//
// plus a stamp file naming what drew the images. The folder is built under a temporary name and
// renamed into place, so it is either complete or absent. If it already exists with the same stamp,
// nothing is written; with a different or no stamp, sct::Error is thrown rather than mixing two
// drawings.
#pragma once
#include <string>

#include "sct/data/image_set.h"
#include "sct/data/vtab_task.h"

namespace sct {

inline constexpr char kTaskStampFile[] = "sct_stamp.txt";

// The four splits of a VTAB-1K-shaped task held in memory.
struct TaskSplits {
  ImageSet train800, val200, train800val200, test;
  const ImageSet& split(VtabSplit s) const;
};

// Images whose three channels are equal are stored as grey PNGs, others as RGB. Returns the folder.
std::string write_vtab_task(const std::string& name, const TaskSplits& splits, const std::string& stamp,
                            const std::string& root, int threads = 0);

}  // namespace sct
