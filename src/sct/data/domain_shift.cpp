#include "sct/data/domain_shift.h"

#include <filesystem>

#include "sct/core/error.h"

namespace fs = std::filesystem;

namespace sct {
namespace {

constexpr int64_t kImageNetClasses = 1000;

struct DomainShiftInfo {
  const char* name;
  const char* alias;  // NOAH's folder name
  bool class_subset;  // scored on the classes it covers, not on all 1000
};

constexpr DomainShiftInfo kDomainShiftSets[] = {
    {"imagenet-v2", "imagenetv2", false},
    {"imagenet-sketch", "imagenet-sketch", false},
    {"imagenet-a", "imagenet-adversarial", true},
    {"imagenet-r", "imagenet-rendition", true},
};

}  // namespace

DomainShiftTest open_domain_shift_test(const std::string& dataset_dir, const std::string& name,
                                       const std::string& class_subset_file) {
  const DomainShiftInfo* info = nullptr;
  for (const auto& d : kDomainShiftSets)
    if (name == d.name || name == d.alias) info = &d;
  if (info == nullptr)
    throw Error("unknown domain-shift test set '" + name +
                "' (known: imagenet-v2, imagenet-sketch, imagenet-a, imagenet-r)");

  DomainShiftTest t;
  t.name = info->name;
  t.images = read_image_list((fs::path(dataset_dir) / "annotations" / "val_meta.list").string(), dataset_dir,
                             ListOptions{kImageNetClasses});
  if (!info->class_subset)
    t.classes = all_classes(kImageNetClasses);
  else if (!class_subset_file.empty()) {
    t.classes = read_class_subset(class_subset_file, kImageNetClasses);
    // An image outside the scored classes could never be classified correctly: a wrong subset file.
    for (const auto& r : t.images)
      if (!t.classes.contains(r.label))
        throw Error(r.origin + ": label " + std::to_string(r.label) + " is not in the class subset " +
                    class_subset_file);
  } else
    t.classes = classes_present(t.images, kImageNetClasses);
  return t;
}

}  // namespace sct
