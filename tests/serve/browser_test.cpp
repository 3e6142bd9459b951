// sct serve's page in a real browser (Debian's headless chromium, driven by browser_check.py over the
// DevTools protocol): it lists the tasks, uploads an image through its file input, and shows the
// model's top 5 with their probabilities.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <thread>

#include "sct/data/preprocess.h"
#include "sct/serve/task_server.h"
#include "serve_fixtures.h"

namespace sct {
namespace {

TEST(ServePage, ShowsTheTopFiveOfAnUploadedImageInChromium) {
  if (std::system("command -v chromium > /dev/null 2>&1") != 0)
    GTEST_SKIP() << "Debian's chromium is not installed (scripts/setup.sh installs it)";
  test::ScratchDir dir;
  const test::ServeFixtureTask task = test::serve_fixture_tasks()[5];  // ssf, 6 classes
  test::write_serve_task(task, dir.file("task"), 9);
  MultiTaskModel model([] { return test::served_backbone(); }, Precision::fp32);
  model.add_task("shirts", dir.file("task"));
  ServeOptions options;
  options.port = 0;
  TaskServer server(model, options);
  std::thread thread([&] { server.run(); });

  cv::Mat img(30, 40, CV_8UC3);
  cv::randu(img, cv::Scalar::all(0), cv::Scalar::all(255));
  const std::string image = dir.file("photo.png");
  cv::imwrite(image, img);
  const std::string script = std::filesystem::path(SCT_FIXTURE_DIR).parent_path() / "serve" / "browser_check.py";
  const std::string command =
      "python3 " + script + " http://127.0.0.1:" + std::to_string(server.port()) + "/ shirts " + image + " 2>&1";
  std::string output;
  if (FILE* pipe = popen(command.c_str(), "r")) {
    char buf[4096];
    while (fgets(buf, sizeof buf, pipe)) output += buf;
    pclose(pipe);
  }
  server.stop();
  thread.join();

  const nlohmann::json shown = nlohmann::json::parse(output, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(shown.is_discarded()) << output;
  ASSERT_EQ(shown["state"], "done") << output;
  const std::string bytes = test::read_file(image);
  const at::Tensor x = preprocess_image_bytes(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), image, 16,
                                              Normalization::inception());
  const auto [values, indices] = model.predict(x.unsqueeze(0), {"shirts"})[0].topk(5);
  ASSERT_EQ(shown["rows"].size(), 5u) << output;
  for (int64_t r = 0; r < 5; ++r) {
    const int64_t c = indices[r].item<int64_t>();
    char percent[32];
    std::snprintf(percent, sizeof percent, "%.2f%%", 100.0 * values[r].item<double>());
    EXPECT_EQ(shown["rows"][size_t(r)][0], "ssf-" + std::to_string(c)) << output;
    EXPECT_EQ(shown["rows"][size_t(r)][1], std::to_string(c));
    EXPECT_EQ(shown["rows"][size_t(r)][2], percent);
  }
}

}  // namespace
}  // namespace sct
