#include "sct/io/output_path.h"

#include <filesystem>

#include "sct/core/error.h"

namespace sct {

namespace fs = std::filesystem;

namespace {

std::string resolved(const std::string& path) {
  std::error_code ec;
  const fs::path p = fs::weakly_canonical(fs::absolute(path), ec);
  return ec ? fs::absolute(path).lexically_normal().string() : p.string();
}

}  // namespace

void check_outputs_are_new(const std::vector<NamedPath>& outputs, const std::vector<NamedPath>& inputs) {
  for (size_t i = 0; i < outputs.size(); ++i) {
    if (outputs[i].path.empty()) continue;
    const std::string out = resolved(outputs[i].path);
    for (const NamedPath& in : inputs)
      if (!in.path.empty() && resolved(in.path) == out)
        throw Error(outputs[i].flag + " " + outputs[i].path + " is the " + in.flag + " it reads: writing it would destroy "
                    "the input; choose another output path");
    for (size_t j = i + 1; j < outputs.size(); ++j)
      if (!outputs[j].path.empty() && resolved(outputs[j].path) == out)
        throw Error(outputs[i].flag + " and " + outputs[j].flag + " name the same file " + outputs[i].path +
                    ": one would overwrite the other");
  }
}

}  // namespace sct
