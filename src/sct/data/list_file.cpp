#include "sct/data/list_file.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "sct/core/error.h"
#include "sct/io/atomic_file.h"

namespace sct {
namespace {

constexpr char kBlank[] = " \t\r\n";
constexpr char kByteOrderMark[] = "\xEF\xBB\xBF";

// A line quoted in a message, cut to a readable length (a file with CR-only line ends is one long line).
std::string shown(const std::string& line) {
  constexpr size_t kMax = 120;
  std::string out;
  for (const char c : line.substr(0, kMax)) out += c == '\r' ? std::string("\\r") : std::string(1, c);
  return "'" + out + (line.size() > kMax ? "...' (" + std::to_string(line.size()) + " bytes)" : "'");
}

std::string lowercase(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return s;
}

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(kBlank);
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(kBlank) - b + 1);
}

// Strict integer parse: the whole field, optional sign, no overflow.
bool parse_int64(const std::string& s, int64_t* out) {
  if (s.empty()) return false;
  size_t used = 0;
  try {
    *out = std::stoll(s, &used, 10);
  } catch (const std::exception&) {
    return false;
  }
  return used == s.size();
}

}  // namespace

std::vector<ImageRecord> read_image_list(const std::string& list_path, const std::string& image_root,
                                         const ListOptions& options) {
  if (std::filesystem::exists(list_path)) require_regular_file(list_path, "list file");
  std::ifstream in(list_path);
  if (!in) throw Error("cannot open list file " + list_path + ": " + std::strerror(errno));
  const std::filesystem::path root(image_root);
  const bool csv = options.separator == ',';
  std::vector<ImageRecord> records;
  std::string raw;
  for (int64_t line_no = 1; std::getline(in, raw); ++line_no) {
    if (line_no == 1 && raw.rfind(kByteOrderMark, 0) == 0) raw.erase(0, sizeof(kByteOrderMark) - 1);
    const std::string line = trim(raw);
    if (line.empty()) continue;
    const std::string where = list_path + ":" + std::to_string(line_no);
    if (line.find('\r') != std::string::npos)
      throw Error(where + ": a carriage return inside the line " + shown(line) +
                  ": CR-only line ends? save the list with LF or CRLF line ends");
    const char* format = csv ? "'<image path>,<label>'" : "'<image path> <label>'";
    const size_t sep = csv ? line.find_last_of(',') : line.find_last_of(" \t");
    if (sep == std::string::npos)
      throw Error(where + ": expected " + format + ", got " + shown(line) + " (no label)");
    const std::string path = trim(line.substr(0, sep));
    const std::string label_text = trim(line.substr(sep + 1));
    if (csv && records.empty() && lowercase(label_text) == "label") continue;  // the header
    if (path.empty()) throw Error(where + ": expected " + format + ", got " + shown(line) + " (no path)");
    int64_t label = 0;
    if (!parse_int64(label_text, &label))
      throw Error(where + ": label " + shown(label_text) + " is not an integer (line " + shown(line) + ")");
    if (label < 0 || (options.num_classes > 0 && label >= options.num_classes))
      throw Error(where + ": label " + label_text + " out of range [0, " +
                  (options.num_classes > 0 ? std::to_string(options.num_classes) : std::string("inf")) + ")");
    records.push_back({(root / path).string(), label, where});
  }
  if (in.bad()) throw Error("error reading list file " + list_path + ": " + std::strerror(errno));
  if (records.empty()) throw Error("list file " + list_path + " has no entries (empty split)");
  return records;
}

int64_t count_classes(const std::vector<ImageRecord>& records) {
  int64_t n = 0;
  for (const auto& r : records) n = std::max(n, r.label + 1);
  return n;
}

}  // namespace sct
