// WatchedFile: a tokens or policy file rotated on disk takes effect without a restart,
// including a Kubernetes Secret's symlink swap, and a broken rotation keeps the previous
// content in force.
#include "libs/security/watched_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/testing/servers.h"

namespace centric::security {
namespace {

using ::testing::HasSubstr;

// The file holds one integer.
absl::StatusOr<int> ParseNumber(const std::string& text) {
  int n = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &n)) {
    return absl::InvalidArgumentError("not a number");
  }
  return n;
}

void Write(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  ASSERT_TRUE(out.good()) << path;
}

constexpr absl::Duration kInterval = absl::Milliseconds(10);

// Longer than the interval, so the next Get looks at the file again.
void WaitPastInterval() { absl::SleepFor(kInterval * 5); }

class WatchedFileTest : public ::testing::Test {
 protected:
  std::unique_ptr<WatchedFile<int>> Open(const std::string& path,
                                         absl::Duration interval = kInterval) {
    auto file = WatchedFile<int>::Open(path, ParseNumber, interval);
    EXPECT_TRUE(file.ok()) << file.status();
    return file.ok() ? std::move(*file) : nullptr;
  }

  testing::TempDir dir_;
  const std::string path_ = dir_.path() + "/value";
};

TEST_F(WatchedFileTest, OpenReadsAndParsesTheFile) {
  Write(path_, "41\n");
  auto file = Open(path_);
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(*file->Get(), 41);
}

TEST_F(WatchedFileTest, OpenFailsNamingThePathWhenMissingOrUnparsable) {
  auto missing = WatchedFile<int>::Open(path_, ParseNumber, kInterval);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr(path_));

  Write(path_, "forty-one");
  auto bad = WatchedFile<int>::Open(path_, ParseNumber, kInterval);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr(path_ + ": not a number"));
}

TEST_F(WatchedFileTest, RereadsAFileRewrittenInPlace) {
  Write(path_, "1");
  auto file = Open(path_);
  ASSERT_NE(file, nullptr);
  Write(path_, "22");
  WaitPastInterval();
  EXPECT_EQ(*file->Get(), 22);
}

TEST_F(WatchedFileTest, DoesNotLookAgainWithinTheInterval) {
  Write(path_, "1");
  auto file = Open(path_, absl::Hours(1));
  ASSERT_NE(file, nullptr);
  Write(path_, "22");
  EXPECT_EQ(*file->Get(), 1);
}

TEST_F(WatchedFileTest, RereadsAFileRenamedOverWithTheSameSizeAndTime) {
  Write(path_, "1");
  auto file = Open(path_);
  ASSERT_NE(file, nullptr);
  struct stat before {};
  ASSERT_EQ(stat(path_.c_str(), &before), 0);
  const std::string next = dir_.path() + "/value.tmp";
  Write(next, "2");
  // Same size and modification time: only the file's identity tells them apart.
  const struct timespec times[2] = {before.st_atim, before.st_mtim};
  ASSERT_EQ(utimensat(AT_FDCWD, next.c_str(), times, 0), 0);
  ASSERT_EQ(std::rename(next.c_str(), path_.c_str()), 0);
  WaitPastInterval();
  EXPECT_EQ(*file->Get(), 2);
}

TEST_F(WatchedFileTest, FollowsAKubernetesSecretSymlinkSwap) {
  // What the kubelet's atomic writer does: the file is a symlink through "..data" to a
  // timestamped folder; an update writes a new folder and renames a new "..data" link
  // over the old one.
  const std::string& root = dir_.path();
  ASSERT_EQ(mkdir((root + "/..2024_01").c_str(), 0755), 0);
  Write(root + "/..2024_01/tokens", "7");
  ASSERT_EQ(symlink("..2024_01", (root + "/..data").c_str()), 0);
  ASSERT_EQ(symlink("..data/tokens", (root + "/tokens").c_str()), 0);
  auto file = Open(root + "/tokens");
  ASSERT_NE(file, nullptr);
  ASSERT_EQ(*file->Get(), 7);

  ASSERT_EQ(mkdir((root + "/..2024_02").c_str(), 0755), 0);
  Write(root + "/..2024_02/tokens", "8");
  ASSERT_EQ(symlink("..2024_02", (root + "/..data_tmp").c_str()), 0);
  ASSERT_EQ(std::rename((root + "/..data_tmp").c_str(), (root + "/..data").c_str()), 0);
  WaitPastInterval();
  EXPECT_EQ(*file->Get(), 8);
}

TEST_F(WatchedFileTest, KeepsThePreviousValueWhenTheNewContentDoesNotParse) {
  Write(path_, "5");
  auto file = Open(path_);
  ASSERT_NE(file, nullptr);
  Write(path_, "five!");
  WaitPastInterval();
  EXPECT_EQ(*file->Get(), 5);
  WaitPastInterval();
  EXPECT_EQ(*file->Get(), 5);
  // A fixed file is picked up again.
  Write(path_, "6");
  WaitPastInterval();
  EXPECT_EQ(*file->Get(), 6);
}

TEST_F(WatchedFileTest, KeepsThePreviousValueWhileTheFileIsGone) {
  Write(path_, "5");
  auto file = Open(path_);
  ASSERT_NE(file, nullptr);
  ASSERT_EQ(unlink(path_.c_str()), 0);
  WaitPastInterval();
  EXPECT_EQ(*file->Get(), 5);
  Write(path_, "66");
  WaitPastInterval();
  EXPECT_EQ(*file->Get(), 66);
}

TEST_F(WatchedFileTest, ValuesHandedOutStayValidAfterAReload) {
  Write(path_, "1");
  auto file = Open(path_);
  ASSERT_NE(file, nullptr);
  std::shared_ptr<const int> old = file->Get();
  Write(path_, "22");
  WaitPastInterval();
  EXPECT_EQ(*file->Get(), 22);
  EXPECT_EQ(*old, 1);
}

}  // namespace
}  // namespace centric::security
