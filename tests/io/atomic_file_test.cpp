#include "sct/io/atomic_file.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <ostream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "sct/core/error.h"
#include "sct/io/output_path.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace sct {
namespace {

// Each test writes into its own scratch folder and checks that nothing else is left there.
class AtomicFileTest : public testing::Test {
 protected:
  std::string path(const std::string& name) const { return dir_.file(name); }
  std::vector<std::string> listing() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(fs::path(dir_.file("x")).parent_path()))
      names.push_back(e.path().filename().string());
    return names;
  }

  test::ScratchDir dir_;
};

void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// Asserts that `f` throws sct::Error and that its message names `path`.
template <typename F>
void expect_error_naming(F&& f, const std::string& path) {
  try {
    f();
    ADD_FAILURE() << "expected sct::Error naming " << path;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

TEST_F(AtomicFileTest, WritesContentAndLeavesOnlyTheTarget) {
  const std::string target = path("out.bin");
  const std::string content("binary\0data\n", 12);
  write_file_atomically(target, [&](std::ostream& out) { out.write(content.data(), content.size()); });
  EXPECT_EQ(test::read_file(target), content);
  EXPECT_EQ(listing(), std::vector<std::string>{"out.bin"});
}

TEST_F(AtomicFileTest, ReplacesExistingFile) {
  const std::string target = path("out.txt");
  write_text(target, "old content that is longer than the new one");
  write_file_atomically(target, [](std::ostream& out) { out << "new"; });
  EXPECT_EQ(test::read_file(target), "new");
  EXPECT_EQ(listing(), std::vector<std::string>{"out.txt"});
}

TEST_F(AtomicFileTest, ExceptionInWriterKeepsOldFileAndRemovesTemporary) {
  const std::string target = path("out.txt");
  write_text(target, "old");
  EXPECT_THROW(write_file_atomically(target,
                                     [](std::ostream& out) {
                                       out << "partial";
                                       throw std::runtime_error("writer failed");
                                     }),
               std::runtime_error);
  EXPECT_EQ(test::read_file(target), "old");
  EXPECT_EQ(listing(), std::vector<std::string>{"out.txt"});
}

TEST_F(AtomicFileTest, ExceptionWithoutPreviousFileLeavesNothing) {
  const std::string target = path("out.txt");
  EXPECT_THROW(write_file_atomically(target, [](std::ostream&) { throw Error("boom"); }), Error);
  EXPECT_TRUE(listing().empty());
}

TEST_F(AtomicFileTest, StreamFailureThrowsNamingPath) {
  const std::string target = path("out.txt");
  write_text(target, "old");
  expect_error_naming(
      [&] { write_file_atomically(target, [](std::ostream& out) { out.setstate(std::ios::badbit); }); },
      target);
  EXPECT_EQ(test::read_file(target), "old");
  EXPECT_EQ(listing(), std::vector<std::string>{"out.txt"});
}

TEST_F(AtomicFileTest, MissingDirectoryThrowsNamingPath) {
  const std::string target = path("no/such/dir/out.txt");
  expect_error_naming([&] { write_file_atomically(target, [](std::ostream& out) { out << "x"; }); }, target);
  EXPECT_TRUE(listing().empty());
}

TEST_F(AtomicFileTest, RenameFailureThrowsAndRemovesTemporary) {
  // rename() cannot replace a non-empty directory with a file.
  const std::string target = path("occupied");
  fs::create_directories(fs::path(target) / "child");
  expect_error_naming([&] { write_file_atomically(target, [](std::ostream& out) { out << "x"; }); }, target);
  EXPECT_EQ(listing(), std::vector<std::string>{"occupied"});
  EXPECT_TRUE(fs::is_directory(target));
}

TEST_F(AtomicFileTest, ConcurrentWritersNeverInterleave) {
  // Each writer's temporary file is unique, so the survivor is one writer's complete content.
  const std::string target = path("shared.bin");
  constexpr int kWriters = 6;
  std::vector<std::thread> threads;
  for (int i = 0; i < kWriters; ++i)
    threads.emplace_back([&, i] {
      write_file_atomically(
          target, [i](std::ostream& out) { out << std::string(1 << 16, static_cast<char>('a' + i)); });
    });
  for (std::thread& t : threads) t.join();
  const std::string content = test::read_file(target);
  ASSERT_EQ(content.size(), 1u << 16);
  EXPECT_EQ(content.find_first_not_of(content[0]), std::string::npos);
  EXPECT_EQ(listing(), std::vector<std::string>{"shared.bin"});
}

// A folder is built aside and swapped in: a failure keeps the old one whole and leaves nothing else.
TEST_F(AtomicFileTest, FolderIsReplacedWholeOrKept) {
  const std::string task = path("task");
  write_folder_atomically(task, [](const std::string& d) { write_text(d + "/a.txt", "one"); });
  write_folder_atomically(task, [](const std::string& d) { write_text(d + "/b.txt", "two"); });
  EXPECT_FALSE(fs::exists(task + "/a.txt"));  // replaced, not merged
  EXPECT_EQ(test::read_file(task + "/b.txt"), "two");
  EXPECT_THROW(write_folder_atomically(task,
                                       [](const std::string& d) {
                                         write_text(d + "/c.txt", "half");
                                         throw Error("killed halfway");
                                       }),
               Error);
  EXPECT_EQ(test::read_file(task + "/b.txt"), "two");
  EXPECT_EQ(listing(), std::vector<std::string>{"task"});
}

// Leftovers of writers that no longer run are removed; a live writer's (pid 1) and other files stay.
TEST_F(AtomicFileTest, StaleTemporariesOfDeadWritersAreRemoved) {
  write_text(path("result.json"), "{}");
  write_text(path("result.json.sct-tmp.99999999.0"), "half");
  fs::create_directories(path("task.sct-old.99999999.3"));
  write_text(path("summary.json.sct-tmp.1.0"), "live");
  write_text(path("notes.tmp.txt"), "mine");
  fs::create_directories(path("photos.old.2023.1"));  // the user's, however it looks
  EXPECT_EQ(remove_stale_temporaries(fs::path(path("x")).parent_path().string()), 2);
  std::vector<std::string> left = listing();
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<std::string>{"notes.tmp.txt", "photos.old.2023.1", "result.json", "summary.json.sct-tmp.1.0"}));
}

// A FIFO would block a reader forever, a folder is no file: both are refused by name before opening.
TEST_F(AtomicFileTest, OnlyRegularFilesAreRead) {
  const std::string fifo = path("pipe");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  expect_error_naming([&] { require_regular_file(fifo, "checkpoint"); }, "cannot read checkpoint " + fifo);
  fs::create_directories(path("dir"));
  expect_error_naming([&] { require_regular_file(path("dir"), "list file"); }, "(a folder)");
  expect_error_naming([&] { require_regular_file(path("none"), "list file"); }, path("none"));
  write_text(path("ok"), "x");
  EXPECT_NO_THROW(require_regular_file(path("ok"), "list file"));
}

// An output that is an input, or two outputs that are one file, are refused before any work.
TEST_F(AtomicFileTest, OutputsMustNotBeInputsOrEachOther) {
  write_text(path("c.safetensors"), "x");
  const std::string same = fs::path(path("sub")).string() + "/../c.safetensors";
  expect_error_naming([&] { check_outputs_are_new({{"--out", same}}, {{"--checkpoint", path("c.safetensors")}}); },
                      "is the --checkpoint it reads");
  expect_error_naming([&] { check_outputs_are_new({{"--out", path("s.json")}, {"--heatmap", path("s.json")}}, {}); },
                      "--out and --heatmap name the same file");
  EXPECT_NO_THROW(check_outputs_are_new({{"--out", path("f.safetensors")}, {"--heatmap", ""}},
                                        {{"--checkpoint", path("c.safetensors")}, {"--input", ""}}));
}

}  // namespace
}  // namespace sct
