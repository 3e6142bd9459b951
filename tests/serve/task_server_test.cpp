// sct serve's HTTP front (task_server.h), on a free loopback port with a real HTTP client: every
// endpoint, the answers equal the model's, and bad requests get their status and a message; a stream
// of malformed requests does not bring it down.
#include "sct/serve/task_server.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <future>
#include <random>
#include <thread>

#include "sct/data/preprocess.h"
#include "raw_http.h"
#include "serve_fixtures.h"

namespace sct {
namespace {

using json = nlohmann::json;

std::string png_bytes(int seed) {
  cv::Mat img(20, 24, CV_8UC3);
  cv::randu(img, cv::Scalar::all(0), cv::Scalar::all(255));
  img.at<cv::Vec3b>(0, 0)[0] = static_cast<uint8_t>(seed);
  std::vector<uint8_t> buf;
  cv::imencode(".png", img, buf);
  return std::string(buf.begin(), buf.end());
}

// A PNG signature and IHDR that claim 60000 x 60000 pixels: refused from the header alone.
std::string png_bomb_header() {
  std::string s("\x89PNG\r\n\x1a\n", 8);
  s += std::string("\x00\x00\x00\x0d", 4) + "IHDR";
  const uint32_t side = htonl(60000);
  s.append(reinterpret_cast<const char*>(&side), 4).append(reinterpret_cast<const char*>(&side), 4);
  s += std::string("\x08\x02\x00\x00\x00", 5) + std::string(4, '\0');
  return s;
}

struct RunningServer {
  test::ScratchDir dir;
  std::vector<test::ServeFixtureTask> tasks = test::serve_fixture_tasks();
  std::unique_ptr<MultiTaskModel> model;
  std::unique_ptr<TaskServer> server;
  std::thread thread;

  explicit RunningServer(ServeOptions options = {}) {
    model = std::make_unique<MultiTaskModel>([] { return test::served_backbone(); }, Precision::fp32);
    for (size_t i = 0; i < tasks.size(); ++i) {
      test::write_serve_task(tasks[i], dir.file(tasks[i].name), 100 + i);
      if (i < 3) model->add_task(tasks[i].name, dir.file(tasks[i].name));  // sct, lora, linear
    }
    options.port = 0;
    server = std::make_unique<TaskServer>(*model, options);
    thread = std::thread([this] { server->run(); });
  }
  ~RunningServer() {
    server->stop();
    thread.join();
  }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", server->port());
    c.set_read_timeout(30, 0);
    return c;
  }
};

TEST(TaskServer, AnswersEveryEndpoint) {
  ServeOptions options;
  options.admin_token = "s3cret";
  RunningServer s(options);
  httplib::Client c = s.client();

  auto health = c.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);

  auto list = c.Get("/v1/tasks");
  ASSERT_TRUE(list);
  const json tasks = json::parse(list->body)["tasks"];
  ASSERT_EQ(tasks.size(), 3u);
  EXPECT_EQ(tasks[0]["name"], "linear");
  EXPECT_EQ(tasks[0]["num_classes"], 5);
  EXPECT_EQ(tasks[0]["trainable_parameters"], 32 * 5 + 5);
  EXPECT_EQ(tasks[0]["backbone_sha256"], s.model->backbone_sha256());

  // The answer is the model's for the same bytes, through the same preprocessing.
  const std::string png = png_bytes(1);
  auto answer = c.Post("/v1/tasks/sct/predict?top=3", png, "image/png");
  ASSERT_TRUE(answer);
  ASSERT_EQ(answer->status, 200) << answer->body;
  const json j = json::parse(answer->body);
  EXPECT_EQ(j["task"], "sct");
  ASSERT_EQ(j["top"].size(), 3u);
  const at::Tensor x = preprocess_image_bytes(reinterpret_cast<const uint8_t*>(png.data()), png.size(), "png", 16,
                                              Normalization::inception());
  const at::Tensor probs = s.model->predict(x.unsqueeze(0), {"sct"})[0];
  const auto [values, indices] = probs.topk(3);
  for (int64_t t = 0; t < 3; ++t) {
    EXPECT_EQ(j["top"][t]["index"], indices[t].item<int64_t>());
    EXPECT_EQ(j["top"][t]["class"], "sct-" + std::to_string(indices[t].item<int64_t>()));
    EXPECT_NEAR(j["top"][t]["prob"].get<double>(), values[t].item<double>(), 1e-7);
  }
  EXPECT_GT(j["ms"].get<double>(), 0.0);

  // Multipart form data (a browser's upload) gives the same answer; top above the classes is capped.
  httplib::MultipartFormDataItems form = {{"image", png, "photo.png", "image/png"}};
  auto multipart = c.Post("/v1/tasks/sct/predict?top=99", form);
  ASSERT_TRUE(multipart);
  ASSERT_EQ(multipart->status, 200) << multipart->body;
  const json m = json::parse(multipart->body);
  EXPECT_EQ(m["top"].size(), 4u);
  EXPECT_EQ(m["top"][0], j["top"][0]);

  // Admin: load and unload at run time.
  auto put = c.Put("/v1/tasks/vpt", s.dir.file("vpt"), "text/plain");
  ASSERT_TRUE(put);
  EXPECT_EQ(put->status, 401);
  c.set_bearer_token_auth("s3cret");
  put = c.Put("/v1/tasks/vpt", s.dir.file("vpt"), "text/plain");
  ASSERT_TRUE(put);
  EXPECT_EQ(put->status, 201) << put->body;
  EXPECT_EQ(json::parse(put->body)["method"], "vpt");
  auto again = c.Put("/v1/tasks/vpt", s.dir.file("vpt"), "text/plain");
  EXPECT_EQ(again->status, 409);
  EXPECT_EQ(c.Put("/v1/tasks/%FF", s.dir.file("vpt"), "text/plain")->status, 400);
  auto wrong = c.Put("/v1/tasks/other", s.dir.file("nowhere"), "text/plain");
  EXPECT_EQ(wrong->status, 400);
  EXPECT_NE(wrong->body.find("nowhere"), std::string::npos) << wrong->body;
  EXPECT_EQ(c.Post("/v1/tasks/vpt/predict", png, "image/png")->status, 200);
  EXPECT_EQ(c.Delete("/v1/tasks/vpt")->status, 200);
  EXPECT_EQ(c.Delete("/v1/tasks/vpt")->status, 404);
  EXPECT_EQ(c.Post("/v1/tasks/vpt/predict", png, "image/png")->status, 404);

  auto metrics = c.Get("/metrics");
  ASSERT_TRUE(metrics);
  for (const char* line : {"sct_requests_total{task=\"sct\",code=\"200\"} 2", "sct_batch_size_count",
                           "sct_request_duration_seconds_bucket{le=\"+Inf\"}", "sct_queue_depth 0",
                           "sct_images_per_second", "sct_request_errors_total{task=\"vpt\",code=\"409\"} 1"})
    EXPECT_NE(metrics->body.find(line), std::string::npos) << line << " not in\n" << metrics->body;

  auto page = c.Get("/");
  ASSERT_TRUE(page);
  EXPECT_NE(page->body.find("<input type=\"file\""), std::string::npos);
}

TEST(TaskServer, BadRequestsGetTheirStatusAndAMessage) {
  ServeOptions options;
  options.max_body_bytes = 64 * 1024;
  RunningServer s(options);
  httplib::Client c = s.client();
  const std::string png = png_bytes(2);
  const auto expect = [](const httplib::Result& r, int status, const std::string& part) {
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, status) << r->body;
    EXPECT_NE(json::parse(r->body)["error"].get<std::string>().find(part), std::string::npos) << r->body;
  };
  expect(c.Post("/v1/tasks/nope/predict", png, "image/png"), 404, "no task named 'nope'");
  // A name that is not UTF-8 is named back (as U+FFFD), not a 500 from the JSON writer (fuzz finding).
  expect(c.Post("/v1/tasks/%FFx/predict", png, "image/png"), 404, "x' is served");
  expect(c.Post("/v1/tasks/sct/predict", png, "text/plain"), 415, "'text/plain' is not an image type");
  expect(c.Post("/v1/tasks/sct/predict", "not an image", "image/png"), 400, "cannot decode image");
  expect(c.Post("/v1/tasks/sct/predict", "", "image/png"), 400, "empty");
  expect(c.Post("/v1/tasks/sct/predict?top=0", png, "image/png"), 400, "top must be a positive integer");
  expect(c.Post("/v1/tasks/sct/predict?top=x", png, "image/png"), 400, "top");
  expect(c.Post("/v1/tasks/sct/predict", png_bomb_header(), "image/png"), 413, "60000 x 60000");
  expect(c.Post("/v1/tasks/sct/predict", std::string(100 * 1024, 'x'), "image/png"), 413, "size limit");
  expect(c.Put("/v1/tasks/x", "somewhere", "text/plain"), 403, "--admin-token");
  expect(c.Get("/v2/anything"), 404, "no such path");
  httplib::MultipartFormDataItems text_only = {{"note", "", "", "text/plain"}};
  expect(c.Post("/v1/tasks/sct/predict", text_only), 400, "no file");
}

TEST(TaskServer, AFullQueueAnswers503WithRetryAfter) {
  ServeOptions options;
  options.batching.max_batch = 2;
  options.batching.max_wait_ms = 1500;  // the first request waits in the queue for company
  options.batching.max_queue = 1;
  RunningServer s(options);
  const std::string png = png_bytes(4);
  auto first = std::async(std::launch::async, [&] { return s.client().Post("/v1/tasks/sct/predict", png, "image/png"); });
  httplib::Client c = s.client();
  for (int i = 0; i < 500; ++i) {  // until the first one waits in the queue
    const httplib::Result m = c.Get("/metrics");
    ASSERT_TRUE(m);
    if (m->body.find("sct_queue_depth 1") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const httplib::Result refused = c.Post("/v1/tasks/lora/predict", png, "image/png");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 503) << refused->body;
  EXPECT_EQ(refused->get_header_value("Retry-After"), "1");
  EXPECT_NE(refused->body.find("queue"), std::string::npos) << refused->body;
  const httplib::Result answered = first.get();  // after its wait, alone
  ASSERT_TRUE(answered);
  EXPECT_EQ(answered->status, 200);
}

// Writes `bytes` to a fresh connection and reads whatever comes back until the server closes it or
// half a second passes.
TEST(TaskServer, SurvivesAStreamOfMalformedRequests) {
  RunningServer s;
  const std::string png = png_bytes(3);
  std::vector<std::string> cases = {
      "GARBAGE\r\n\r\n",
      "POST /v1/tasks/sct/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 99999999999\r\n\r\n",
      "POST /v1/tasks/sct/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: -5\r\n\r\n",
      "POST /v1/tasks/sct/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 5000\r\n\r\n" +
          png.substr(0, 100),
      "POST /v1/tasks/sct/predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: image/png\r\n\r\n"
      "zz\r\nabc\r\n",
      "GET /" + std::string(20000, 'a') + " HTTP/1.1\r\n\r\n",
      "GET /healthz HTTP/1.1\r\n" + std::string(10000, 'H') + ": v\r\n\r\n",
      "POST /v1/tasks/sct/predict HTTP/1.1\r\nContent-Type: multipart/form-data; boundary=xx\r\nContent-Length: 30\r\n\r\n"
      "--xx\r\nContent-Disposition: form",
      "POST /v1/tasks/%00%ff/predict?top=%zz HTTP/1.1\r\nContent-Type: image/png\r\nContent-Length: 3\r\n\r\nabc",
  };
  std::mt19937 rng(5);
  for (int i = 0; i < 40; ++i) {  // and random mutations of a valid request
    std::string req = "POST /v1/tasks/sct/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: " +
                      std::to_string(png.size()) + "\r\n\r\n" + png;
    for (int f = 0; f < 8; ++f) req[rng() % req.size()] = static_cast<char>(rng());
    if (i % 3 == 0) req.resize(rng() % req.size());
    cases.push_back(req);
  }
  for (const auto& c : cases) test::raw_round_trip(s.server->port(), c, 500);
  httplib::Client c = s.client();
  auto health = c.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auto answer = c.Post("/v1/tasks/sct/predict", png, "image/png");
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 200);
}

}  // namespace
}  // namespace sct
