#include "sct/io/atomic_file.h"

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

}  // namespace
}  // namespace sct
