// One way to read and write a JSON object as a struct: the struct names its fields once, in a
// `visit_fields(c, visit)` function that calls visit("name", c.field) for each, and these helpers walk
// that list to serialise, to parse (strictly typed, unknown keys rejected) and to list the known names.
// A field added to the list is written, read and checked at once; a hand-kept list per direction drifts.
#pragma once
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "sct/core/error.h"

namespace sct::json_fields {

using nlohmann::json;

// Typed reads, stricter than nlohmann's get<>, which would truncate 0.5 into an integer field.
inline void read(const json& v, std::string& out) { out = v.get<std::string>(); }
inline void read(const json& v, bool& out) { out = v.get<bool>(); }
inline void read(const json& v, double& out) {
  if (!v.is_number()) throw Error("expected a number, got " + v.dump());
  out = v.get<double>();
}
inline void read(const json& v, int64_t& out) {
  if (!v.is_number_integer()) throw Error("expected an integer, got " + v.dump());
  out = v.get<int64_t>();
}
inline void read(const json& v, int& out) {
  int64_t wide = 0;
  read(v, wide);
  out = static_cast<int>(wide);
}
inline void read(const json& v, uint64_t& out) {
  if (!v.is_number_unsigned()) throw Error("expected a non-negative integer, got " + v.dump());
  out = v.get<uint64_t>();
}
inline void read(const json& v, json& out) { out = v; }
template <typename T>
void read(const json& v, std::vector<T>& out) {
  if (!v.is_array()) throw Error("expected an array, got " + v.dump());
  out.clear();
  for (const json& x : v) read(x, out.emplace_back());
}
template <typename T>
void read(const json& v, std::map<std::string, T>& out) {
  if (!v.is_object()) throw Error("expected an object, got " + v.dump());
  out.clear();
  for (const auto& item : v.items()) read(item.value(), out[item.key()]);
}

template <typename T>
json write(const T& value) {
  return value;
}

// Every field of `c` as one JSON object. A field type with its own `write(const T&)` overload found by
// argument-dependent lookup (an enum's name) is written through it.
template <typename Config, typename VisitFields>
json to_json(const Config& c, VisitFields visit_fields) {
  json j = json::object();
  visit_fields(c, [&](const char* name, const auto& field) {
    using sct::json_fields::write;
    j[name] = write(field);
  });
  return j;
}

template <typename Config, typename VisitFields>
std::string field_names(VisitFields visit_fields) {
  Config c;
  std::string names;
  visit_fields(c, [&](const char* name, auto&) { names += (names.empty() ? "" : ", ") + std::string(name); });
  return names;
}

// Throws sct::Error naming the first field of the list that `j` lacks: for documents that must
// state every field (a recipe, a run summary).
template <typename Config, typename VisitFields>
void require_all(const json& j, VisitFields visit_fields, const std::string& what) {
  Config c;
  visit_fields(c, [&](const char* name, auto&) {
    if (!j.is_object() || !j.contains(name)) throw Error(what + " field '" + name + "' is missing");
  });
}

// `base` with the fields `j` names read from it; `what` names the object in messages ("config",
// "summary"). Unknown keys and wrong types throw sct::Error naming the field.
template <typename Config, typename VisitFields>
Config from_json(const json& j, Config base, VisitFields visit_fields, const std::string& what) {
  if (!j.is_object()) throw Error(what + " must be a JSON object, got " + j.dump());
  std::set<std::string> seen;
  visit_fields(base, [&](const char* name, auto& field) {
    seen.insert(name);
    const auto it = j.find(name);
    if (it == j.end()) return;
    try {
      using sct::json_fields::read;
      read(*it, field);
    } catch (const std::exception& e) {  // sct::Error or nlohmann's type_error
      throw Error(what + " field '" + name + "': " + e.what());
    }
  });
  for (const auto& item : j.items())
    if (!seen.count(item.key()))
      throw Error("unknown " + what + " field '" + item.key() + "'; known: " + field_names<Config>(visit_fields));
  return base;
}

}  // namespace sct::json_fields
