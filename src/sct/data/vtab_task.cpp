#include "sct/data/vtab_task.h"

#include <filesystem>

#include "sct/core/error.h"
#include "sct/data/synthetic_tasks.h"

namespace fs = std::filesystem;

namespace sct {

const std::vector<VtabTaskInfo>& vtab_task_registry() {
  static const std::vector<VtabTaskInfo> tasks = [] {
  std::vector<VtabTaskInfo> v = {
      {"cifar100", {"cifar"}, "natural", 100},
      {"caltech101", {}, "natural", 102},
      {"dtd", {}, "natural", 47},
      {"oxford_flowers102", {}, "natural", 102},
      {"oxford_iiit_pet", {"oxford_pet"}, "natural", 37},
      {"svhn", {}, "natural", 10},
      {"sun397", {}, "natural", 397},
      {"patch_camelyon", {}, "specialized", 2},
      {"eurosat", {}, "specialized", 10},
      {"resisc45", {}, "specialized", 45},
      {"diabetic_retinopathy", {}, "specialized", 5},
      {"clevr_count", {}, "structured", 8},
      {"clevr_dist", {}, "structured", 6},
      {"dmlab", {}, "structured", 6},
      {"kitti", {}, "structured", 4},
      {"dsprites_loc", {}, "structured", 16},
      {"dsprites_ori", {}, "structured", 16},
      {"smallnorb_azi", {}, "structured", 18},
      {"smallnorb_ele", {}, "structured", 9},
      // Not VTAB: Fashion-MNIST drawn into the same 800/200/1000/test shape (fashion_mnist_1k.h).
      {"fashion-mnist-1k", {}, "builtin", 10},
  };
  // Not VTAB either: the generated tasks of the offline suite (synthetic_tasks.h).
  for (const SyntheticTaskInfo& t : synthetic_tasks()) v.push_back({t.name, {}, "builtin", t.num_classes});
  return v;
  }();
  return tasks;
}

namespace {

const VtabTaskInfo* lookup_vtab_task(const std::string& name_or_alias) {
  for (const auto& t : vtab_task_registry()) {
    if (t.name == name_or_alias) return &t;
    for (const auto& a : t.aliases)
      if (a == name_or_alias) return &t;
  }
  return nullptr;
}

}  // namespace

const VtabTaskInfo& find_vtab_task(const std::string& name_or_alias) {
  if (const VtabTaskInfo* t = lookup_vtab_task(name_or_alias)) return *t;
  std::string known;
  for (const auto& t : vtab_task_registry()) known += (known.empty() ? "" : ", ") + t.name;
  throw Error("unknown VTAB-1K task '" + name_or_alias + "' (known: " + known +
              "; a task outside this list needs an explicit class count)");
}

const char* vtab_split_name(VtabSplit split) {
  switch (split) {
    case VtabSplit::Train800:
      return "train800";
    case VtabSplit::Val200:
      return "val200";
    case VtabSplit::Train800Val200:
      return "train800val200";
    case VtabSplit::Test:
      return "test";
  }
  throw Error("invalid VtabSplit");
}

VtabSplit parse_vtab_split(const std::string& name) {
  for (VtabSplit s : {VtabSplit::Train800, VtabSplit::Val200, VtabSplit::Train800Val200, VtabSplit::Test})
    if (name == vtab_split_name(s)) return s;
  throw Error("unknown VTAB-1K split '" + name + "' (known: train800, val200, train800val200, test)");
}

std::string VtabTask::list_path(VtabSplit split) const {
  return (fs::path(dir) / (std::string(vtab_split_name(split)) + ".txt")).string();
}

std::vector<ImageRecord> VtabTask::read_split(VtabSplit split) const {
  return read_image_list(list_path(split), dir, ListOptions{num_classes});
}

VtabTask open_vtab_task(const std::string& root, const std::string& task, int64_t num_classes_override) {
  if (num_classes_override < 0)
    throw Error("class count override for task '" + task + "' must be positive, got " +
                std::to_string(num_classes_override));
  VtabTask out{task, "", num_classes_override};
  std::vector<std::string> folders{task};
  if (const VtabTaskInfo* info = lookup_vtab_task(task)) {
    out.name = info->name;
    if (out.num_classes == 0) out.num_classes = info->num_classes;
    folders = {info->name};
    folders.insert(folders.end(), info->aliases.begin(), info->aliases.end());
  } else if (num_classes_override == 0) {
    find_vtab_task(task);  // throws, listing the known tasks
  }
  std::string looked;
  for (const auto& f : folders) {
    const fs::path dir = fs::path(root) / f;
    if (fs::is_directory(dir)) {
      out.dir = dir.string();
      return out;
    }
    looked += (looked.empty() ? "" : ", ") + dir.string();
  }
  throw Error("no folder for VTAB-1K task '" + task + "': looked for " + looked);
}

}  // namespace sct
