#include "sct/io/safetensors.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <ostream>
#include <utility>
#include <vector>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "sct/core/error.h"
#include "sct/io/little_endian.h"
#include "sct/core/json_error.h"
#include "sct/io/mapped_file.h"
#include "sct/io/atomic_file.h"

namespace sct {
namespace {

// Tensors are copied byte for byte (the format is little-endian, as the host: little_endian.h).
// Bounds the allocation a corrupt header length could trigger; real headers are a few hundred KB.
constexpr std::uint64_t kMaxHeaderBytes = 100u << 20;
// A ViT-H has ~400 tensors: a header listing millions is a corrupt file or a memory bomb.
constexpr size_t kMaxTensors = 100000;
constexpr char kMetadataKey[] = "__metadata__";

struct DtypeInfo {
  const char* name;
  at::ScalarType type;
};

constexpr DtypeInfo kDtypes[] = {
    {"F64", at::kDouble}, {"F32", at::kFloat}, {"F16", at::kHalf},  {"BF16", at::kBFloat16},
    {"I64", at::kLong},   {"I32", at::kInt},   {"I16", at::kShort}, {"I8", at::kChar},
    {"U8", at::kByte},    {"BOOL", at::kBool},
};

struct Entry {
  std::string name;
  at::ScalarType type;
  std::vector<std::int64_t> shape;
  std::uint64_t begin;
  std::uint64_t end;
};

at::ScalarType parse_dtype(const std::string& name, const std::string& where) {
  for (const DtypeInfo& d : kDtypes)
    if (name == d.name) return d.type;
  throw Error(where + ": unknown dtype '" + name +
              "' (expected F64, F32, F16, BF16, I64, I32, I16, I8, U8 or BOOL)");
}

const char* dtype_name(at::ScalarType type) {
  for (const DtypeInfo& d : kDtypes)
    if (type == d.type) return d.name;
  return nullptr;
}

Entry parse_entry(const std::string& name, const nlohmann::json& value, std::uint64_t data_size,
                  const std::string& path) {
  const std::string where = path + ": tensor '" + name + "'";
  if (!value.is_object()) throw Error(where + ": header entry is not a JSON object");
  const auto dtype = value.find("dtype");
  const auto shape = value.find("shape");
  const auto offsets = value.find("data_offsets");
  if (dtype == value.end() || !dtype->is_string())
    throw Error(where + ": 'dtype' is missing or not a string");
  if (shape == value.end() || !shape->is_array()) throw Error(where + ": 'shape' is missing or not an array");
  if (offsets == value.end() || !offsets->is_array() || offsets->size() != 2 ||
      !(*offsets)[0].is_number_unsigned() || !(*offsets)[1].is_number_unsigned())
    throw Error(where + ": 'data_offsets' must be an array of two non-negative integers");

  Entry entry{name,
              parse_dtype(dtype->get<std::string>(), where),
              {},
              (*offsets)[0].get<std::uint64_t>(),
              (*offsets)[1].get<std::uint64_t>()};
  // Overflow-checked: a corrupt shape must not wrap around to a plausible byte count.
  std::uint64_t bytes = c10::elementSize(entry.type);
  bool overflow = false;
  for (const nlohmann::json& dim : *shape) {
    if (!dim.is_number_unsigned() ||
        dim.get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      throw Error(where + ": shape " + shape->dump() + " must contain only non-negative integers");
    entry.shape.push_back(dim.get<std::int64_t>());
    overflow = overflow || __builtin_mul_overflow(bytes, dim.get<std::uint64_t>(), &bytes);
  }
  if (entry.begin > entry.end || entry.end > data_size)
    throw Error(where + ": data_offsets [" + std::to_string(entry.begin) + ", " + std::to_string(entry.end) +
                "] lie outside the data section of " + std::to_string(data_size) + " bytes");
  if (overflow || bytes != entry.end - entry.begin)
    throw Error(where + ": shape " + shape->dump() + " of " + dtype->get<std::string>() + " needs " +
                (overflow ? std::string("more than 2^64") : std::to_string(bytes)) +
                " bytes, but data_offsets span " + std::to_string(entry.end - entry.begin));
  return entry;
}

// Overlapping ranges would alias the same bytes under two names; empty tensors occupy no bytes.
void check_no_overlap(std::vector<const Entry*> entries, const std::string& path) {
  entries.erase(
      std::remove_if(entries.begin(), entries.end(), [](const Entry* e) { return e->begin == e->end; }),
      entries.end());
  std::sort(entries.begin(), entries.end(),
            [](const Entry* a, const Entry* b) { return a->begin < b->begin; });
  for (std::size_t i = 1; i < entries.size(); ++i)
    if (entries[i]->begin < entries[i - 1]->end)
      throw Error(path + ": tensors '" + entries[i - 1]->name + "' and '" + entries[i]->name +
                  "' overlap in the data section");
}

}  // namespace

TensorMap load_safetensors(const std::string& path, StringMap* metadata) {
  const MappedFile file(path);
  if (file.size() < 8)
    throw Error(path + ": not a safetensors file (" + std::to_string(file.size()) +
                " bytes, shorter than the 8-byte header length)");
  const auto header_size = read_le<std::uint64_t>(file.data());
  if (header_size > file.size() - 8)
    throw Error(path + ": header length " + std::to_string(header_size) + " exceeds the file size of " +
                std::to_string(file.size()) + " bytes (truncated or not a safetensors file)");
  if (header_size > kMaxHeaderBytes)
    throw Error(path + ": header length " + std::to_string(header_size) +
                " exceeds the 100 MB limit (corrupt or not a safetensors file)");

  const char* header_begin = reinterpret_cast<const char*>(file.data() + 8);
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(header_begin, header_begin + header_size, refuse_huge_numbers);
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": header is not valid JSON: " + e.what());
  }
  if (!header.is_object()) throw Error(path + ": header is not a JSON object");
  const size_t listed = header.size() - header.count(kMetadataKey);
  if (listed > kMaxTensors)
    throw Error(path + ": the header lists " + std::to_string(listed) + " tensors, over the limit of " +
                std::to_string(kMaxTensors) + " (corrupt or not a checkpoint)");

  const std::uint8_t* data = file.data() + 8 + header_size;
  const std::uint64_t data_size = file.size() - 8 - header_size;
  std::vector<Entry> entries;
  for (const auto& [name, value] : header.items()) {
    if (name == kMetadataKey) {
      if (!value.is_object()) throw Error(path + ": '__metadata__' is not a JSON object");
      for (const auto& [key, text] : value.items()) {
        if (!text.is_string()) throw Error(path + ": metadata value '" + key + "' is not a string");
        if (metadata != nullptr) (*metadata)[key] = text.get<std::string>();
      }
      continue;
    }
    entries.push_back(parse_entry(name, value, data_size, path));
  }
  std::vector<const Entry*> pointers;
  for (const Entry& e : entries) pointers.push_back(&e);
  check_no_overlap(std::move(pointers), path);

  TensorMap tensors;
  for (const Entry& e : entries) {
    at::Tensor tensor = at::empty(e.shape, at::TensorOptions().dtype(e.type));
    if (e.end > e.begin) std::memcpy(tensor.data_ptr(), data + e.begin, e.end - e.begin);
    // A bool byte other than 0/1 is undefined behaviour in every kernel that reads it.
    if (e.type == at::kBool &&
        std::any_of(data + e.begin, data + e.end, [](std::uint8_t b) { return b > 1; }))
      throw Error(path + ": tensor '" + e.name + "': BOOL data contains bytes other than 0 and 1");
    tensors.emplace(e.name, std::move(tensor));
  }
  return tensors;
}

void save_safetensors(const std::string& path, const TensorMap& tensors, const StringMap& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header[kMetadataKey] = metadata;
  // TensorMap is ordered by name, so the data section is sorted by name and laid out back to back.
  std::vector<at::Tensor> contiguous;
  std::uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    const std::string where = path + ": tensor '" + name + "'";
    if (name == kMetadataKey) throw Error(where + ": the name is reserved for metadata");
    if (!tensor.defined()) throw Error(where + ": tensor is undefined");
    const char* dtype = dtype_name(tensor.scalar_type());
    if (dtype == nullptr || tensor.layout() != at::kStrided)
      throw Error(where + ": cannot store a " + std::string(c10::toString(tensor.scalar_type())) +
                  " tensor with layout " + c10::str(tensor.layout()) + " (only dense F64..BOOL)");
    at::Tensor cpu = tensor.detach().to(at::kCPU).contiguous();
    const std::uint64_t bytes = cpu.numel() * cpu.element_size();
    nlohmann::json shape = nlohmann::json::array();
    for (const std::int64_t dim : cpu.sizes()) shape.push_back(dim);
    header[name] = {
        {"dtype", dtype}, {"shape", std::move(shape)}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    contiguous.push_back(std::move(cpu));
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": tensor names and metadata must be valid UTF-8: " + e.what());
  }
  // Padding keeps the data section 8-byte aligned for readers that map the file and use it in place.
  text.append((8 - text.size() % 8) % 8, ' ');

  write_file_atomically(path, [&](std::ostream& out) {
    const std::uint64_t header_size = text.size();
    out.write(reinterpret_cast<const char*>(&header_size), 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const at::Tensor& t : contiguous)
      out.write(static_cast<const char*>(t.data_ptr()),
                static_cast<std::streamsize>(t.numel() * t.element_size()));
  });
}

}  // namespace sct
