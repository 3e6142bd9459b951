// torchvision's ImageFolder layout: <root>/<class>/**/<image>, classes sorted by folder name, class i
// = the i-th name; images found recursively, in sorted path order, filtered by extension.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "sct/data/list_file.h"

namespace sct {

struct ImageFolder {
  std::vector<std::string> classes;  // folder names, sorted (byte order = Python's sorted() on UTF-8)
  std::vector<ImageRecord> records;  // grouped by class, each group in sorted path order
  int64_t ignored_files = 0;         // files without an image extension, left out
  std::string first_ignored;         // the first of them in sorted order, for the message
};

// Image extensions as torchvision's IMG_EXTENSIONS (case-insensitive): .jpg .jpeg .png .ppm .bmp .pgm
// .tif .tiff .webp. Throws sct::Error when `root` is not a folder, has no class folders, or a class
// folder holds no image (naming it, as torchvision does).
ImageFolder read_image_folder(const std::string& root);

}  // namespace sct
