// nlohmann::json's exception texts ("[json.exception.out_of_range.403] key 'backbone' not found") in
// sct's words, for messages that name the file first: "field 'backbone' is missing".
#pragma once
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>

#include "sct/core/error.h"

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

// The parser callback for every document sct did not write itself (pass it to json::parse): a
// floating-point number beyond int64's range is refused as it is read, because get<int64_t>() of it,
// wherever the field is an integer, is undefined behaviour (fuzz finding: 1.4e80 as a block index). No
// sct file has a use for such a number.
inline bool refuse_huge_numbers(int, nlohmann::json::parse_event_t event, nlohmann::json& value) {
  if (event == nlohmann::json::parse_event_t::value && value.is_number_float() &&
      !(std::fabs(value.get<double>()) < 9.2e18))
    throw Error("the number " + value.dump() + " is out of range");
  return true;
}

}  // namespace sct
