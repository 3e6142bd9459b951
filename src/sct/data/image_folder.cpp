#include "sct/data/image_folder.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "sct/core/error.h"

namespace fs = std::filesystem;

namespace sct {
namespace {

bool has_image_extension(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const char* e : {".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp"})
    if (ext == e) return true;
  return false;
}

}  // namespace

ImageFolder read_image_folder(const std::string& root) {
  if (!fs::is_directory(root)) throw Error("image folder " + root + " is not a directory");
  ImageFolder out;
  for (const auto& entry : fs::directory_iterator(root))
    if (entry.is_directory()) out.classes.push_back(entry.path().filename().string());
  if (out.classes.empty()) throw Error("image folder " + root + " has no class folders");
  std::sort(out.classes.begin(), out.classes.end());

  for (size_t c = 0; c < out.classes.size(); ++c) {
    const fs::path class_dir = fs::path(root) / out.classes[c];
    std::vector<std::string> files, ignored;
    for (const auto& entry :
         fs::recursive_directory_iterator(class_dir, fs::directory_options::follow_directory_symlink))
      if (entry.is_regular_file()) (has_image_extension(entry.path()) ? files : ignored).push_back(entry.path().string());
    if (!ignored.empty()) {
      const std::string first = *std::min_element(ignored.begin(), ignored.end());
      if (out.first_ignored.empty() || first < out.first_ignored) out.first_ignored = first;
      out.ignored_files += int64_t(ignored.size());
    }
    if (files.empty()) throw Error("class folder " + class_dir.string() + " holds no image file");
    std::sort(files.begin(), files.end());
    for (auto& f : files)
      out.records.push_back({std::move(f), static_cast<int64_t>(c), "class folder " + class_dir.string()});
  }
  return out;
}

}  // namespace sct
