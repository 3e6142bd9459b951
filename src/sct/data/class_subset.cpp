#include "sct/data/class_subset.h"

#include <ATen/ops/from_blob.h>
#include <ATen/ops/zeros.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "sct/core/error.h"

namespace sct {
namespace {

ClassSubset from_flags(const std::vector<bool>& present, int64_t num_classes) {
  ClassSubset s;
  s.num_classes = num_classes;
  for (int64_t c = 0; c < num_classes; ++c)
    if (present[c]) s.indices.push_back(c);
  return s;
}

}  // namespace

bool ClassSubset::contains(int64_t c) const { return std::binary_search(indices.begin(), indices.end(), c); }

at::Tensor ClassSubset::mask() const {
  at::Tensor m = at::zeros({num_classes}, at::kBool);
  bool* p = m.data_ptr<bool>();
  for (int64_t c : indices) p[c] = true;
  return m;
}

at::Tensor ClassSubset::index_tensor() const {
  return at::from_blob(const_cast<int64_t*>(indices.data()), {static_cast<int64_t>(indices.size())}, at::kLong).clone();
}

ClassSubset all_classes(int64_t num_classes) { return from_flags(std::vector<bool>(num_classes, true), num_classes); }

ClassSubset classes_present(const std::vector<ImageRecord>& records, int64_t num_classes) {
  std::vector<bool> present(num_classes, false);
  for (const auto& r : records) {
    if (r.label < 0 || r.label >= num_classes)
      throw Error(r.origin + ": label " + std::to_string(r.label) + " out of range [0, " + std::to_string(num_classes) +
                  ")");
    present[r.label] = true;
  }
  return from_flags(present, num_classes);
}

ClassSubset read_class_subset(const std::string& path, int64_t num_classes) {
  std::ifstream in(path);
  if (!in) throw Error("cannot open class subset file " + path + ": " + std::strerror(errno));
  std::vector<bool> present(num_classes, false);
  bool any = false;
  std::string line;
  for (int64_t line_no = 1; std::getline(in, line); ++line_no) {
    line = line.substr(0, line.find('#'));
    std::replace(line.begin(), line.end(), ',', ' ');
    std::istringstream tokens(line);
    for (std::string tok; tokens >> tok;) {
      size_t used = 0;
      int64_t c = -1;
      try {
        c = std::stoll(tok, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      const std::string where = path + ":" + std::to_string(line_no);
      if (used != tok.size()) throw Error(where + ": '" + tok + "' is not a class index");
      if (c < 0 || c >= num_classes)
        throw Error(where + ": class " + tok + " out of range [0, " + std::to_string(num_classes) + ")");
      present[c] = true;
      any = true;
    }
  }
  if (!any) throw Error("class subset file " + path + " lists no class");
  return from_flags(present, num_classes);
}

}  // namespace sct
