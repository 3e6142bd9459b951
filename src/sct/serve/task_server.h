// sct serve's HTTP/1.1 front (cpp-httplib, Debian's libcpp-httplib-dev): JSON answers, loopback by default.
//   GET    /healthz                     200 "ok" once the backbone and the tasks are loaded
//   GET    /v1/tasks                    every task: name, method, classes, trainable parameters, fingerprint
//   POST   /v1/tasks/{name}/predict     body: image bytes (image/png, image/jpeg, ...) or multipart form
//                                       data with one file; ?top=K. -> {"task", "top": [{"class",
//                                       "index", "prob"}], "ms"}
//   PUT    /v1/tasks/{name}             body: a task folder path on the server   } only with an admin
//   DELETE /v1/tasks/{name}                                                      } token (Bearer)
//   GET    /metrics                     Prometheus text (serve_metrics.h)
//   GET    /                            a page to pick a task, drop an image and see the top 5
// Errors are {"error": message} with 400 (bad request or image), 401/403 (admin), 404 (unknown task
// or path), 409 (task name taken), 413 (body or pixel limit), 415 (not an image type), 503 (queue
// full, with Retry-After).
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>

#include "sct/data/normalize.h"
#include "sct/serve/multi_task_model.h"
#include "sct/serve/request_batcher.h"
#include "sct/serve/serve_metrics.h"

namespace httplib {
class Server;
}

namespace sct {

struct ServeOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port (TaskServer::port() says which)
  RequestBatcher::Options batching;
  size_t max_body_bytes = 32u << 20;
  std::string admin_token;  // empty: PUT and DELETE are refused
  int http_threads = 64;    // connections served at once (each waits on its batch)
  void validate() const;    // throws sct::Error naming the flag
};

class TaskServer {
 public:
  // Serves `model` (whose tasks are already loaded); binds at once, so port() is known and a taken
  // port is an error here (sct::Error naming host and port).
  TaskServer(MultiTaskModel& model, ServeOptions options);
  ~TaskServer();
  int port() const { return port_; }
  // Answers requests until stop(); then every request already received is answered before it returns.
  void run();
  void stop();  // thread-safe, idempotent

 private:
  struct Catalog;  // what request threads need of a task without waiting for a batch to finish
  void refresh_catalog();
  void install_routes();

  MultiTaskModel& model_;
  ServeOptions options_;
  std::mutex model_mutex_;  // batches and task loading take turns
  std::shared_mutex catalog_mutex_;
  std::map<std::string, std::shared_ptr<const Catalog>> catalog_;
  ServeMetrics metrics_;
  std::unique_ptr<RequestBatcher> batcher_;
  std::unique_ptr<httplib::Server> http_;
  int port_ = 0;
  std::atomic<bool> stop_requested_{false}, finished_{false};
};

// `sct serve`: runs a TaskServer until SIGTERM or SIGINT, then drains it; prints
// "listening on http://HOST:PORT" to `log` once ready. Returns the exit code (0).
int serve_until_signalled(MultiTaskModel& model, const ServeOptions& options, std::ostream& log);

}  // namespace sct
