// Image list files: one "<relative path> <label>" per line -- the format of NOAH's VTAB-1K splits
// (train800.txt, ...), few-shot lists (train_meta.list.num_shot_K.seed_S, ...) and domain-shift lists
// (val_meta.list). The label follows the LAST space or tab, because file names may contain spaces
// (ImageNet-A: "0.003773_soap dispenser _ soap dispenser_0.28588653.jpg 954").
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace sct {

// One labelled image, before decoding.
struct ImageRecord {
  std::string path;    // file to decode: the list entry joined to the list's image root
  int64_t label = 0;   // class index in [0, num_classes)
  std::string origin;  // "<list file>:<line>" (or another description of where the entry came from)
};

struct ListOptions {
  // Labels must lie in [0, num_classes). 0: only non-negative labels are required (the class count
  // is then whatever the caller derives, e.g. max label + 1).
  int64_t num_classes = 0;
  // 0: the label follows the last space or tab. ',': CSV "path,label", the label after the last comma,
  // and a first line whose label field is "label" is a header.
  char separator = 0;
};

// Reads every entry of `list_path`; paths are resolved against `image_root`. Blank lines (and a
// trailing "\r" from Windows line ends, and a UTF-8 byte-order mark) are ignored; repeated entries are kept (NOAH's oxford-pets
// 1-shot lists repeat each line, and the reference trains on both copies).
// Throws sct::Error naming the list file and line for: a missing or unreadable list, a line without a
// label or without a path, a label that is not an integer or is out of range, and a list without any
// entry (an empty split). Image files are not touched here: decoding reports missing images.
std::vector<ImageRecord> read_image_list(const std::string& list_path, const std::string& image_root,
                                         const ListOptions& options = {});

// Largest label + 1 (0 for an empty list).
int64_t count_classes(const std::vector<ImageRecord>& records);

}  // namespace sct
