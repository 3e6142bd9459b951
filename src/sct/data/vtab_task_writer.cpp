#include "sct/data/vtab_task_writer.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "sct/core/error.h"
#include "sct/data/parallel_for.h"

namespace fs = std::filesystem;

namespace sct {
namespace {

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

bool is_grey(const cv::Mat& rgb) {
  std::vector<cv::Mat> planes;
  cv::split(rgb, planes);
  return cv::countNonZero(planes[0] != planes[1]) == 0 && cv::countNonZero(planes[0] != planes[2]) == 0;
}

// One PNG per list entry, images/<split>/NNNNNN.png, as NOAH's extraction lays them out.
void write_split(const ImageSet& set, VtabSplit split, const fs::path& dir, int threads) {
  const std::string name = vtab_split_name(split);
  fs::create_directories(dir / "images" / name);
  auto rel = [&](int64_t i) {
    char file[32];
    std::snprintf(file, sizeof(file), "%06lld.png", static_cast<long long>(i));
    return "images/" + name + "/" + file;
  };
  const int64_t n = static_cast<int64_t>(set.images.size());
  parallel_for(n, threads, [&](int64_t i) {
    cv::Mat out;
    if (is_grey(set.images[i]))
      cv::extractChannel(set.images[i], out, 0);  // store the grey plane once
    else
      cv::cvtColor(set.images[i], out, cv::COLOR_RGB2BGR);
    const std::string path = (dir / rel(i)).string();
    if (!cv::imwrite(path, out)) throw Error("cannot write " + path);
  });
  std::ofstream list(dir / (name + ".txt"));
  for (int64_t i = 0; i < n; ++i) list << rel(i) << ' ' << set.labels[i] << '\n';
  list.close();
  if (!list) throw Error("cannot write " + (dir / (name + ".txt")).string());
}

}  // namespace

const ImageSet& TaskSplits::split(VtabSplit s) const {
  switch (s) {
    case VtabSplit::Train800:
      return train800;
    case VtabSplit::Val200:
      return val200;
    case VtabSplit::Train800Val200:
      return train800val200;
    case VtabSplit::Test:
      return test;
  }
  throw Error("invalid VtabSplit");
}

std::string write_vtab_task(const std::string& name, const TaskSplits& splits, const std::string& stamp,
                            const std::string& root, int threads) {
  const fs::path dir = fs::path(root) / name;
  auto check_existing = [&] {
    const std::string found = read_text(dir / kTaskStampFile);
    if (found != stamp)
      throw Error(dir.string() + " already exists but was not written by sct as '" +
                  stamp.substr(0, stamp.find('\n')) + "'" +
                  (found.empty() ? " (no stamp file)" : " (stamp: " + found.substr(0, found.find('\n')) + ")") +
                  "; remove it or choose another root");
    return dir.string();
  };
  if (fs::exists(dir)) return check_existing();

  fs::create_directories(root);
  const fs::path tmp = fs::path(root) / ("." + name + ".tmp." + std::to_string(::getpid()));
  fs::remove_all(tmp);
  try {
    for (VtabSplit s : {VtabSplit::Train800, VtabSplit::Val200, VtabSplit::Train800Val200, VtabSplit::Test})
      write_split(splits.split(s), s, tmp, threads);
    std::ofstream stamp_file(tmp / kTaskStampFile);
    stamp_file << stamp;
    stamp_file.close();
    if (!stamp_file) throw Error("cannot write " + (tmp / kTaskStampFile).string());
    std::error_code ec;
    fs::rename(tmp, dir, ec);
    if (ec) {
      fs::remove_all(tmp);
      if (fs::exists(dir)) return check_existing();  // another process finished first
      throw Error("cannot move " + tmp.string() + " to " + dir.string() + ": " + ec.message());
    }
  } catch (...) {
    std::error_code ignored;
    fs::remove_all(tmp, ignored);
    throw;
  }
  return dir.string();
}

}  // namespace sct
