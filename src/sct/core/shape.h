// "[2, 3, 224, 224]" for error messages.
#pragma once
#include <string>

#include <c10/util/ArrayRef.h>
#include <c10/util/StringUtil.h>

namespace sct {

inline std::string shape_str(c10::IntArrayRef sizes) { return c10::str(sizes); }

}  // namespace sct
