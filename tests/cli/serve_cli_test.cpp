// `sct serve` as a user runs it: the binary on a free loopback port with four task folders of
// different methods. Each answer equals `sct predict --json` for the same image file (<= 1e-5), and
// SIGTERM drains a request still waiting for its batch, then exits 0.
#include <gtest/gtest.h>
#include <httplib.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "sct/model/vision_transformer.h"
#include "sct/io/safetensors.h"
#include "serve/serve_fixtures.h"

namespace sct {
namespace {

using json = nlohmann::json;

// The served binary, started with fork + exec so that the test can signal it and read its exit status.
class ServeProcess {
 public:
  ServeProcess(const std::vector<std::string>& args, const std::string& log) : log_(log) {
    pid_ = fork();
    if (pid_ == 0) {
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(fd, 2);
      dup2(fd, 1);
      std::vector<char*> argv{const_cast<char*>(SCT_CLI_PATH)};
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(SCT_CLI_PATH, argv.data());
      _exit(127);
    }
  }
  ~ServeProcess() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  // The port from "listening on http://127.0.0.1:PORT", waiting up to a minute; -1 if it exited first.
  int port() {
    static const std::regex listening("listening on http://127\\.0\\.0\\.1:([0-9]+)");
    for (int i = 0; i < 600; ++i) {
      std::smatch m;
      const std::string text = test::read_file(log_);
      if (std::regex_search(text, m, listening)) return std::stoi(m[1]);
      if (waitpid(pid_, &status_, WNOHANG) == pid_) {
        exited_ = true;
        return -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return -1;
  }
  int terminate_and_wait() {
    kill(pid_, SIGTERM);
    waitpid(pid_, &status_, 0);
    exited_ = true;
    return WIFEXITED(status_) ? WEXITSTATUS(status_) : -1;
  }
  std::string log() const { return test::read_file(log_); }

 private:
  pid_t pid_ = -1;
  int status_ = 0;
  bool exited_ = false;
  std::string log_;
};

TEST(ServeCli, AnswersEqualPredictAndSigtermDrains) {
  test::ScratchDir dir;
  // The tiny backbone of seed 1 as a checkpoint file, and three task folders trained on it.
  VisionTransformer backbone = test::served_backbone();
  TensorMap weights;
  for (const auto& [name, t] : backbone->backbone_tensors()) weights[name] = t;
  save_safetensors(dir.file("backbone.safetensors"), weights);
  const std::vector<test::ServeFixtureTask> all = test::serve_fixture_tasks();
  // sct, lora and linear share batches; vpt runs in passes of its own on the same backbone.
  const std::vector<test::ServeFixtureTask> tasks = {all[0], all[1], all[2], all[3]};
  std::vector<std::string> model_args = {"--threads", "1", "--precision", "fp32", "--model", "custom",
                                         "--patch",   "4", "--width",     "32",   "--depth", "3",
                                         "--heads",   "2", "--img-size",  "16",   "--checkpoint",
                                         dir.file("backbone.safetensors")};
  std::vector<std::string> args = {"serve", "--port", "0", "--max-wait-ms", "400"};
  args.insert(args.end(), model_args.begin(), model_args.end());
  for (size_t i = 0; i < tasks.size(); ++i) {
    test::write_serve_task(tasks[i], dir.file(tasks[i].name), 200 + i);
    args.insert(args.end(), {"--task", tasks[i].name + "=" + dir.file(tasks[i].name)});
  }
  std::vector<std::string> images;
  for (int i = 0; i < 3; ++i) {
    cv::Mat img(18 + i, 21, CV_8UC3);
    cv::randu(img, cv::Scalar::all(0), cv::Scalar::all(255));
    images.push_back(dir.file("img" + std::to_string(i) + ".png"));
    cv::imwrite(images.back(), img);
  }

  ServeProcess server(args, dir.file("serve.log"));
  const int port = server.port();
  ASSERT_GT(port, 0) << server.log();

  // All twelve (task, image) requests at once: they share batches across tasks.
  std::vector<std::future<httplib::Result>> answers;
  for (const auto& t : tasks)
    for (const auto& path : images)
      answers.push_back(std::async(std::launch::async, [&, name = t.name, bytes = test::read_file(path)] {
        httplib::Client c("127.0.0.1", port);
        c.set_read_timeout(60, 0);
        return c.Post(("/v1/tasks/" + name + "/predict?top=2").c_str(), bytes, "image/png");
      }));
  size_t k = 0;
  for (const auto& t : tasks) {
    std::string predict_args = "predict --json --top 2 --threads 1 --precision fp32 --task-dir " +
                               dir.file(t.name) + " --checkpoint " + dir.file("backbone.safetensors");
    for (const auto& path : images) predict_args += " " + path;
    const test::CommandResult predicted = test::run_cli(predict_args);
    ASSERT_EQ(predicted.exit_code, 0) << predicted.output;
    std::istringstream lines(predicted.output);
    std::string line;
    for (size_t i = 0; i < images.size(); ++i, ++k) {
      do std::getline(lines, line);
      while (line.empty() || line.front() != '{');
      const json want = json::parse(line)["top"];
      const httplib::Result got = answers[k].get();
      ASSERT_TRUE(got);
      ASSERT_EQ(got->status, 200) << got->body;
      const json top = json::parse(got->body)["top"];
      ASSERT_EQ(top.size(), want.size());
      for (size_t r = 0; r < top.size(); ++r) {
        EXPECT_EQ(top[r]["index"], want[r]["label"]) << t.name << " " << images[i];
        EXPECT_EQ(top[r]["class"], want[r]["name"]);
        EXPECT_NEAR(top[r]["prob"].get<double>(), want[r]["prob"].get<double>(), 1e-5) << t.name << " " << images[i];
      }
    }
  }

  // The twelve shared batches: fewer forward passes than requests.
  {
    httplib::Client c("127.0.0.1", port);
    const httplib::Result metrics = c.Get("/metrics");
    ASSERT_TRUE(metrics);
    static const std::regex batches("sct_batch_size_count ([0-9]+)");
    std::smatch m;
    ASSERT_TRUE(std::regex_search(metrics->body, m, batches)) << metrics->body;
    EXPECT_LT(std::stoi(m[1]), 12) << metrics->body;
  }

  // A request waits up to 400 ms for company; SIGTERM arrives meanwhile, and it is still answered.
  auto last = std::async(std::launch::async, [&] {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(60, 0);
    return c.Post("/v1/tasks/sct/predict", test::read_file(images[0]), "image/png");
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  EXPECT_EQ(server.terminate_and_wait(), 0) << server.log();
  const httplib::Result drained = last.get();
  ASSERT_TRUE(drained);
  EXPECT_EQ(drained->status, 200);
  EXPECT_NE(server.log().find("draining"), std::string::npos) << server.log();
}

TEST(ServeCli, RefusesATaskOfAnotherBackboneAtStart) {
  test::ScratchDir dir;
  test::write_serve_task(test::serve_fixture_tasks()[0], dir.file("sct"), 1);
  // No checkpoint: the random init of seed 42 is not the backbone of seed 1 the task was trained on.
  ServeProcess server({"serve", "--port", "0", "--threads", "1", "--model", "custom", "--patch", "4", "--width",
                       "32", "--depth", "3", "--heads", "2", "--img-size", "16", "--task", "a=" + dir.file("sct")},
                      dir.file("serve.log"));
  EXPECT_EQ(server.port(), -1);
  const std::string log = server.log();
  EXPECT_NE(log.find(dir.file("sct")), std::string::npos) << log;
  EXPECT_NE(log.find("fingerprint"), std::string::npos) << log;
}

}  // namespace
}  // namespace sct
