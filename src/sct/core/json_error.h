// nlohmann::json's exception texts ("[json.exception.out_of_range.403] key 'backbone' not found") in
// sct's words, for messages that name the file first: "field 'backbone' is missing".
#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace sct {

inline std::string json_error_text(const nlohmann::json::exception& e) {
  std::string detail = e.what();
  if (const size_t end = detail.find("] "); detail.rfind("[json.exception.", 0) == 0 && end != std::string::npos)
    detail = detail.substr(end + 2);  // drop the library's "[json.exception.kind.N] " prefix
  if (e.id == 403) {  // out_of_range: key 'x' not found
    const size_t a = detail.find('\''), b = detail.rfind('\'');
    if (a != std::string::npos && b > a) return "field " + detail.substr(a, b - a + 1) + " is missing";
  }
  if (e.id >= 101 && e.id <= 199) return "not valid JSON (" + detail + ")";
  if (e.id >= 301 && e.id <= 399) return "a field has the wrong type (" + detail + ")";
  return detail;
}

}  // namespace sct
