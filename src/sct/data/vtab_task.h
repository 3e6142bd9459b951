// VTAB-1K as NOAH extracts it (data/vtab-source/get_vtab1k.py), the layout SCT, NOAH and V-PETL read:
//
//   <root>/<task>/train800.txt, val200.txt, train800val200.txt, test.txt
//   <root>/<task>/images/<split>/000000.jpg ...        (list lines: "images/<split>/000000.jpg 3")
//
// The task registry below is the one place that knows the tasks, their folder aliases and class
// counts (transcribed from shared/reference/vtab1k.tsv; smallnorb_ele has 9 classes, not the 18 the
// reference configures), plus sct's built-in fashion-mnist-1k (see fashion_mnist_1k.h).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "sct/data/list_file.h"

namespace sct {

struct VtabTaskInfo {
  std::string name;                  // canonical name, e.g. "cifar100"
  std::vector<std::string> aliases;  // other folder names met in the wild, e.g. "cifar"
  std::string group;                 // natural | specialized | structured | builtin
  int64_t num_classes = 0;
};

// The 19 VTAB-1K tasks in vtab1k.tsv order, then fashion-mnist-1k and the generated suite tasks
// (synthetic_tasks.h), group "builtin".
const std::vector<VtabTaskInfo>& vtab_task_registry();

// Looks a task up by canonical name or alias. Throws sct::Error listing the known names.
const VtabTaskInfo& find_vtab_task(const std::string& name_or_alias);

enum class VtabSplit { Train800, Val200, Train800Val200, Test };

// "train800", "val200", "train800val200", "test" -- also the list file's stem.
const char* vtab_split_name(VtabSplit split);
VtabSplit parse_vtab_split(const std::string& name);  // throws sct::Error for other names

// A task folder found on disk.
struct VtabTask {
  std::string name;         // canonical name (or the name given, for a task outside the registry)
  std::string dir;          // <root>/<folder that exists>
  int64_t num_classes = 0;  // labels of every split must lie in [0, num_classes)

  std::string list_path(VtabSplit split) const;  // <dir>/<split>.txt
  // Reads one split's list (image paths resolved against `dir`); errors as read_image_list.
  std::vector<ImageRecord> read_split(VtabSplit split) const;
};

// Finds <root>/<task> under its canonical name or any alias (the first folder that exists).
// num_classes_override > 0 replaces the registry's class count, and lets a task outside the registry
// (any folder in this layout) be opened. Throws sct::Error naming the folders looked for.
VtabTask open_vtab_task(const std::string& root, const std::string& task, int64_t num_classes_override = 0);

}  // namespace sct
