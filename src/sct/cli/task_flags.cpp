#include "sct/cli/task_flags.h"

#include <CLI/CLI.hpp>

namespace sct::cli {

void TaskFlags::add_to(CLI::App& cmd) {
  cmd.add_option("--task", task,
                 "a VTAB-1K task under --data (e.g. cifar100), or fashion-mnist-1k or fashion-mnist, which need no "
                 "--data; not needed when --data is one dataset");
  cmd.add_option("--data", data,
                 "the data: a VTAB-1K root as NOAH extracts it (with --task), one VTAB task folder, a NOAH few-shot "
                 "dataset (with --shots), list files DIR/{train,val,test}.{txt,csv,list} (+ classes.txt), image "
                 "folders DIR/{train,val,test}/<class>/*, or DIR/<class>/* (split by --split-fractions)");
  cmd.add_option("--classes", num_classes,
                 "class count: for a VTAB task outside the registry; otherwise a check of the data's");
  cmd.add_option("--split-fractions", split, "train,val,test fractions of DIR/<class>/* folders")
      ->delimiter(',')
      ->expected(3)
      ->capture_default_str();
  cmd.add_option("--split-seed", split_seed, "which images of each class go to which split")->capture_default_str();
  cmd.add_option("--shots", shots,
                 "K training images per class: NOAH's few-shot list of K, or K drawn from the training split")
      ->check(CLI::PositiveNumber);
  cmd.add_option("--shot-seed", shot_seed, "which K images: NOAH's list seed (0, 1, 2), or the draw's seed")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd.add_option("--lists", lists, "the stems of list files for train,val,test")
      ->delimiter(',')
      ->expected(3)
      ->capture_default_str();
  cmd.add_flag("--allow-outside-root", allow_outside_root,
               "read files that lie outside --data (absolute paths, ../ or symlinks in lists and folders)");
  cmd.add_flag("--skip-bad-images", skip_bad_images,
               "leave out images that cannot be read or decoded (counted, and in the run's summary) instead of "
               "stopping at the first");
  cmd.add_flag("--check-data,!--no-check-data", check_data,
               "check at the start that every file of every split exists (a stat each, no decoding; on by default)");
}

}  // namespace sct::cli
