// The overview as a browser shows it: a real DashboardServer on 127.0.0.1 and Debian's
// headless Chromium as a child process, taking a screenshot and dumping the DOM it built.
//
// Chromium runs with --headless=new: since Chromium 132 the old headless mode is no
// longer in the browser binary (it became the separate chrome-headless-shell), and plain
// --headless means the new mode. Each run is bounded (killed with its whole process group
// after kTimeout), talks only to 127.0.0.1 (no proxy, every host name unresolvable,
// background services off), keeps its profile, config and crash database in the test's
// temporary folder, and the test fails if any process mentioning that folder outlives it.
#include <dirent.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "libs/runtime/clock.h"
#include "libs/testing/servers.h"
#include "services/reporting/dashboard/server.h"
#include "tests/services/reporting/dashboard/sample_data.h"

namespace centric::reporting::dashboard {
namespace {

using ::testing::HasSubstr;

constexpr char kChromium[] = "/usr/bin/chromium";
constexpr absl::Duration kTimeout = absl::Seconds(60);

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Single-quoted for /bin/sh.
std::string ShellQuote(const std::string& arg) {
  return absl::StrCat("'", absl::StrReplaceAll(arg, {{"'", "'\\''"}}), "'");
}

// Live processes (not zombies) whose command line contains `marker`, other than us.
std::vector<pid_t> ProcessesMentioning(const std::string& marker) {
  std::vector<pid_t> found;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return found;
  while (dirent* entry = readdir(proc)) {
    int pid = 0;
    if (!absl::SimpleAtoi(entry->d_name, &pid) || pid == getpid()) continue;
    std::string cmdline = ReadFile(absl::StrCat("/proc/", pid, "/cmdline"));
    if (cmdline.find(marker) != std::string::npos) found.push_back(pid);
  }
  closedir(proc);
  return found;
}

struct ChromiumRun {
  bool timed_out = false;
  int wait_status = 0;
  absl::Duration took;
  std::string stdout_text;
  std::string stderr_path;
};

// Runs Chromium on `url` with `args` added, its stdout kept, its stderr in a file.
ChromiumRun RunChromium(const std::string& dir, const std::string& name,
                        const std::vector<std::string>& args, const std::string& url) {
  std::vector<std::string> argv = {kChromium,
                                   "--headless=new",
                                   "--no-sandbox",
                                   "--disable-gpu",
                                   "--disable-dev-shm-usage",
                                   absl::StrCat("--user-data-dir=", dir, "/profile-", name),
                                   "--window-size=1280,2000",
                                   "--hide-scrollbars",
                                   "--no-first-run",
                                   "--no-default-browser-check",
                                   "--disable-background-networking",
                                   "--disable-component-update",
                                   "--disable-sync",
                                   "--disable-extensions",
                                   "--disable-default-apps",
                                   "--mute-audio",
                                   "--no-proxy-server",
                                   "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back(url);
  ChromiumRun run;
  run.stderr_path = absl::StrCat(dir, "/", name, ".stderr");
  const std::string stdout_path = absl::StrCat(dir, "/", name, ".stdout");
  std::vector<std::string> quoted;
  for (const std::string& a : argv) quoted.push_back(ShellQuote(a));
  // exec: the shell becomes Chromium (Debian's wrapper execs the browser in turn), so
  // the process Process::Start made its group leader is the browser itself.
  const std::string command =
      absl::StrCat("exec ", absl::StrJoin(quoted, " "), " 2>", ShellQuote(run.stderr_path));
  const std::vector<std::string> env = {absl::StrCat("HOME=", dir, "/home"),
                                        absl::StrCat("XDG_CONFIG_HOME=", dir, "/config"),
                                        absl::StrCat("XDG_CACHE_HOME=", dir, "/cache")};
  const absl::Time start = absl::Now();
  auto process = testing::Process::Start({"/bin/sh", "-c", command}, stdout_path, env);
  if (!process.ok()) {
    ADD_FAILURE() << "cannot start chromium: " << process.status();
    return run;
  }
  const pid_t group = (*process)->pid();
  while ((*process)->Running()) {
    if (absl::Now() - start > kTimeout) {
      run.timed_out = true;
      kill(-group, SIGKILL);
      break;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  run.took = absl::Now() - start;
  run.wait_status = (*process)->Signal(SIGKILL);  // reaps it; signals only if still running
  kill(-group, SIGKILL);                          // renderers and zygotes still in its group
  run.stdout_text = ReadFile(stdout_path);
  return run;
}

std::string Describe(const ChromiumRun& run) {
  return absl::StrCat(run.timed_out ? "timed out after " : "ran for ",
                      absl::FormatDuration(run.took), ", wait status ", run.wait_status,
                      "; stderr:\n", ReadFile(run.stderr_path));
}

bool Succeeded(const ChromiumRun& run) {
  return !run.timed_out && WIFEXITED(run.wait_status) && WEXITSTATUS(run.wait_status) == 0;
}

struct Image {
  uint32_t width = 0;
  uint32_t height = 0;
  std::vector<uint8_t> rgb;  // 3 bytes per pixel, row by row
};

uint32_t BigEndian32(const std::string& s, size_t at) {
  return (uint32_t{static_cast<uint8_t>(s[at])} << 24) |
         (uint32_t{static_cast<uint8_t>(s[at + 1])} << 16) |
         (uint32_t{static_cast<uint8_t>(s[at + 2])} << 8) |
         uint32_t{static_cast<uint8_t>(s[at + 3])};
}

// Decodes the PNGs Chromium writes: 8-bit RGB or RGBA, not interlaced (PNG spec, ISO/IEC
// 15948: chunks, zlib-compressed scanlines each with a filter byte 0-4).
absl::StatusOr<Image> DecodePng(const std::string& png) {
  if (png.size() < 8 || png.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0) {
    return absl::InvalidArgumentError("no PNG signature");
  }
  Image image;
  int channels = 0;
  std::string compressed;
  for (size_t at = 8; at + 12 <= png.size();) {
    const uint32_t length = BigEndian32(png, at);
    const std::string type = png.substr(at + 4, 4);
    if (at + 12 + length > png.size()) return absl::InvalidArgumentError("truncated chunk");
    if (type == "IHDR") {
      image.width = BigEndian32(png, at + 8);
      image.height = BigEndian32(png, at + 12);
      const int bit_depth = png[at + 16], color_type = png[at + 17], interlace = png[at + 20];
      if (bit_depth != 8 || (color_type != 2 && color_type != 6) || interlace != 0) {
        return absl::UnimplementedError(
            absl::StrCat("PNG depth ", bit_depth, " colour type ", color_type));
      }
      channels = color_type == 6 ? 4 : 3;
    } else if (type == "IDAT") {
      compressed += png.substr(at + 8, length);
    }
    at += 12 + length;
  }
  if (channels == 0) return absl::InvalidArgumentError("no IHDR");
  const size_t stride = size_t{image.width} * channels;
  std::vector<uint8_t> raw((stride + 1) * image.height);
  uLongf raw_size = raw.size();
  if (uncompress(raw.data(), &raw_size, reinterpret_cast<const Bytef*>(compressed.data()),
                 compressed.size()) != Z_OK ||
      raw_size != raw.size()) {
    return absl::InvalidArgumentError("bad image data");
  }
  std::vector<uint8_t> pixels(stride * image.height);
  for (size_t y = 0; y < image.height; ++y) {
    const uint8_t filter = raw[y * (stride + 1)];
    const uint8_t* in = &raw[y * (stride + 1) + 1];
    uint8_t* out = &pixels[y * stride];
    const uint8_t* up = y > 0 ? &pixels[(y - 1) * stride] : nullptr;
    for (size_t i = 0; i < stride; ++i) {
      const int a = i >= static_cast<size_t>(channels) ? out[i - channels] : 0;
      const int b = up != nullptr ? up[i] : 0;
      const int c = up != nullptr && i >= static_cast<size_t>(channels) ? up[i - channels] : 0;
      int predictor = 0;
      switch (filter) {
        case 0:
          predictor = 0;
          break;
        case 1:
          predictor = a;
          break;
        case 2:
          predictor = b;
          break;
        case 3:
          predictor = (a + b) / 2;
          break;
        case 4: {
          const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
          predictor = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          break;
        }
        default:
          return absl::InvalidArgumentError(absl::StrCat("filter ", filter));
      }
      out[i] = static_cast<uint8_t>(in[i] + predictor);
    }
  }
  image.rgb.reserve(size_t{image.width} * image.height * 3);
  for (size_t p = 0; p < size_t{image.width} * image.height; ++p) {
    image.rgb.insert(image.rgb.end(), &pixels[p * channels], &pixels[p * channels + 3]);
  }
  return image;
}

// Pixels within 3 of the colour on every channel.
size_t CountColour(const Image& image, int r, int g, int b) {
  size_t n = 0;
  for (size_t p = 0; p + 2 < image.rgb.size(); p += 3) {
    if (std::abs(image.rgb[p] - r) <= 3 && std::abs(image.rgb[p + 1] - g) <= 3 &&
        std::abs(image.rgb[p + 2] - b) <= 3)
      ++n;
  }
  return n;
}

TEST(DashboardChromiumTest, OverviewRendersInHeadlessChromium) {
  ASSERT_EQ(access(kChromium, X_OK), 0)
      << kChromium << " is missing: Chromium is not installed. Run scripts/install-deps.sh "
      << "(it installs Debian's chromium package), then run this test again.";

  std::atomic<int> overview_calls{0};
  DashboardSource source{.overview = [&](absl::Time) -> absl::StatusOr<OverviewData> {
                           ++overview_calls;
                           return testdata::Overview();
                         },
                         .experiment = [](const std::string& id)
                             -> absl::StatusOr<std::pair<v1::Experiment, v1::ExperimentResults>> {
                           return testdata::CheckoutExperiment();
                         }};
  runtime::FakeClock clock;
  DashboardServer server(std::move(source), clock);
  ASSERT_TRUE(server.Start("127.0.0.1:0").ok());
  const std::string url = absl::StrCat("http://", server.address(), "/");
  testing::TempDir dir;

  const std::string png_path = dir.path() + "/overview.png";
  ChromiumRun shot = RunChromium(dir.path(), "screenshot", {"--screenshot=" + png_path}, url);
  ChromiumRun dom = RunChromium(dir.path(), "dom", {"--dump-dom"}, url);
  std::cout << "chromium screenshot: " << absl::FormatDuration(shot.took)
            << ", dump-dom: " << absl::FormatDuration(dom.took) << "\n";

  // Nothing of Chromium may outlive the test: its group was killed above; helpers that
  // left the group (crashpad handlers start their own session) exit once the browser is
  // gone. Anything still there after 10 s is killed and fails the test.
  std::vector<pid_t> left = ProcessesMentioning(dir.path());
  for (absl::Time deadline = absl::Now() + absl::Seconds(10);
       !left.empty() && absl::Now() < deadline;) {
    absl::SleepFor(absl::Milliseconds(100));
    left = ProcessesMentioning(dir.path());
  }
  for (pid_t pid : left) kill(pid, SIGKILL);
  EXPECT_TRUE(left.empty()) << "chromium processes left behind: " << absl::StrJoin(left, ", ");

  ASSERT_TRUE(Succeeded(shot)) << Describe(shot);
  ASSERT_TRUE(Succeeded(dom)) << Describe(dom);
  EXPECT_GE(overview_calls.load(), 2);  // both runs fetched the page from our server

  // The screenshot: a PNG of the window size with the charts painted in it. Kept in
  // $CENTRIC_TEST_ARTIFACTS_DIR when that is set, for a person to look at.
  const std::string png = ReadFile(png_path);
  if (const char* artifacts = std::getenv("CENTRIC_TEST_ARTIFACTS_DIR")) {
    std::ofstream(absl::StrCat(artifacts, "/dashboard-overview.png"), std::ios::binary) << png;
  }
  ASSERT_GT(png.size(), 30000u) << "screenshot missing or nearly empty: " << png_path;
  ASSERT_EQ(png.compare(0, 8, "\x89PNG\r\n\x1a\n"), 0);
  absl::StatusOr<Image> image = DecodePng(png);
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_EQ(image->width, 1280u);
  EXPECT_EQ(image->height, 2000u);
  size_t not_background = 0;
  for (size_t p = 0; p + 2 < image->rgb.size(); p += 3) {
    if (image->rgb[p] < 235 || image->rgb[p + 1] < 235 || image->rgb[p + 2] < 235) ++not_background;
  }
  EXPECT_GT(not_background, image->rgb.size() / 3 / 20) << "less than 5 % of the page is painted";
  EXPECT_GT(CountColour(*image, 0x1d, 0x4e, 0xd8), 2000u) << "segment bars (#1d4ed8) not painted";
  EXPECT_GT(CountColour(*image, 0x1e, 0x40, 0xaf), 5000u)
      << "100 % cohort cells (#1e40af) not painted";

  // The DOM Chromium built from the page holds every figure as text.
  const std::string& html = dom.stdout_text;
  EXPECT_THAT(html, HasSubstr("<!DOCTYPE html>"));
  EXPECT_THAT(
      html,
      HasSubstr(
          "data-kpi=\"KPI_NPS\"><h3 class=\"kpi-name\">NPS</h3><p class=\"kpi-value\">+42.0</p>"));
  EXPECT_THAT(html, HasSubstr("n = 1,204 answers"));
  EXPECT_THAT(html, HasSubstr("▲"));
  EXPECT_THAT(html, HasSubstr("<polygon class=\"band\""));
  EXPECT_THAT(html, HasSubstr(">+58.3</text>"));
  EXPECT_THAT(html, HasSubstr(">31.7 %</text>"));
  EXPECT_THAT(html, HasSubstr("<td class=\"rate\">11.00 %</td>"));
}

}  // namespace
}  // namespace centric::reporting::dashboard
