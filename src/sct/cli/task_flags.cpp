#include "sct/cli/task_flags.h"

#include <CLI/CLI.hpp>

namespace sct::cli {

void TaskFlags::add_to(CLI::App& cmd) {
  cmd.add_option("--task", task,
                 "a VTAB-1K task under --data (e.g. cifar100), or fashion-mnist-1k, which needs no --data; "
                 "not needed when --data is one dataset");
  cmd.add_option("--data", data,
                 "the data: a VTAB-1K root as NOAH extracts it (with --task), one VTAB task folder, image folders "
                 "DIR/{train,val,test}/<class>/*, or DIR/<class>/* (split by --split-fractions)");
  cmd.add_option("--classes", num_classes,
                 "class count: for a VTAB task outside the registry; for image folders, a check of the folders'");
  cmd.add_option("--split-fractions", split, "train,val,test fractions of DIR/<class>/* folders")
      ->delimiter(',')
      ->expected(3)
      ->capture_default_str();
  cmd.add_option("--split-seed", split_seed, "which images of each class go to which split")->capture_default_str();
  cmd.add_flag("--skip-bad-images", skip_bad_images,
               "leave out images that cannot be read or decoded (counted, and in the run's summary) instead of "
               "stopping at the first");
}

}  // namespace sct::cli
