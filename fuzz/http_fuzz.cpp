// sct serve's request path: the bytes are sent, as they are, as one HTTP request to a TaskServer
// running in this process (a small random ViT serving one linear-probe task). The oracle is the
// server's promise: it never crashes, never answers 500 (an exception other than sct::Error escaped a
// handler), and still answers GET /metrics afterwards.

#include <memory>
#include <string>
#include <thread>

#include "fuzz_target.h"
#include "raw_http.h"
#include "sct/model/vision_transformer.h"
#include "sct/model/backbone_fingerprint.h"
#include "sct/peft/peft_method.h"
#include "sct/peft/task_dir.h"
#include "sct/serve/multi_task_model.h"
#include "sct/serve/task_server.h"

namespace {

sct::VisionTransformer small_vit() {
  sct::VitConfig cfg;
  cfg.name = "fuzz";
  cfg.img_size = 16;
  cfg.patch_size = 8;
  cfg.width = 16;
  cfg.depth = 1;
  cfg.heads = 2;
  cfg.num_classes = 3;
  at::manual_seed(0);
  return sct::VisionTransformer(cfg);
}

struct Served {
  std::unique_ptr<sct::MultiTaskModel> model;
  std::unique_ptr<sct::TaskServer> server;
  std::thread thread;

  Served() {
    const std::string dir = sct::fuzz::scratch_dir("http") + "/task";
    sct::VisionTransformer vit = small_vit();
    sct::TaskInfo info;
    info.backbone_sha256 = sct::backbone_fingerprint(*vit);
    auto method = sct::make_peft_method("linear");
    method->attach(*vit);
    info.method = method->config();
    info.backbone = vit->config_json();
    info.class_names = {"a", "b", "c"};
    sct::save_task_dir(dir, info, *vit);
    model = std::make_unique<sct::MultiTaskModel>([] { return small_vit(); }, sct::Precision::fp32);
    model->add_task("t", dir);
    sct::ServeOptions options;
    options.port = 0;
    options.admin_token = "token";  // PUT and DELETE are reachable too
    options.max_body_bytes = 1 << 20;
    options.batching.max_wait_ms = 0;
    server = std::make_unique<sct::TaskServer>(*model, options);
    thread = std::thread([this] { server->run(); });
  }
  ~Served() {
    server->stop();
    thread.join();
  }
};

// One HTTP exchange on a fresh connection. The request is not half-closed (httplib drops a connection
// whose peer has shut down writing before it answers); instead the answer is awaited for `wait_ms`,
// and read until its Content-Length is complete. A request that is still incomplete (a body shorter
// than its length) gets no answer in time: the connection is closed, which ends it on the server.
}  // namespace

SCT_FUZZ_TARGET(http) {
  static Served served;
  const int port = served.server->port();
  const std::string response = sct::test::raw_round_trip(port, std::string(reinterpret_cast<const char*>(data), size), 20);
  if (response.compare(0, 12, "HTTP/1.1 500") == 0)
    sct::fuzz::finding("http: a 500 answer: " + response.substr(0, 400));
  // Every answer so far is counted by status: a 500 to a request still running when the wait above
  // ended shows here too.
  // Generous: two fuzzers and a build may share the machine; a real hang is libFuzzer's -timeout.
  const std::string metrics = sct::test::raw_round_trip(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 15000);
  if (metrics.compare(0, 12, "HTTP/1.1 200") != 0)
    sct::fuzz::finding("http: GET /metrics no longer answers 200 after the input: " + metrics.substr(0, 200));
  if (metrics.find("code=\"500\"") != std::string::npos)
    sct::fuzz::finding("http: the server answered 500 (an exception escaped a handler)");
  return 0;
}
