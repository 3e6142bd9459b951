#include "sct/serve/task_server.h"

#include <ATen/ATen.h>
#include <httplib.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <csignal>
#include <nlohmann/json.hpp>
#include <ostream>
#include <thread>

#include "sct/core/error.h"
#include "sct/data/image_decode.h"
#include "sct/data/preprocess.h"
#include "sct/serve/web_page.h"

namespace sct {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

// When the request this thread is answering arrived (set before routing, read by the logger).
thread_local Clock::time_point t_request_start;
thread_local bool t_request_started = false;

void send_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  // Names and paths from the request may be any bytes: invalid UTF-8 becomes U+FFFD instead of an
  // exception (found by fuzz/http_fuzz.cpp).
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& message) {
  send_json(res, status, {{"error", message}});
}

std::string media_type(const std::string& content_type) {
  std::string t = content_type.substr(0, content_type.find(';'));
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.pop_back();
  for (char& c : t) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return t;
}

bool is_image_type(const std::string& type) {
  return type.rfind("image/", 0) == 0 || type == "application/octet-stream";
}

// Compares without stopping at the first difference: the time taken does not tell how much matched.
bool same_secret(const std::string& a, const std::string& b) {
  unsigned diff = a.size() == b.size() ? 0u : 1u;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned>(a[i] ^ b[i % (b.empty() ? 1 : b.size())]);
  return diff == 0 && !b.empty();
}

// "name" of /v1/tasks/name[/...], "" for other paths. (Not a function-local static regex: the logger
// may still run on a worker thread while static objects are destroyed at exit; found by the fuzzer.)
std::string task_of_path(const std::string& path) {
  static constexpr char kPrefix[] = "/v1/tasks/";
  constexpr size_t begin = sizeof kPrefix - 1;
  if (path.compare(0, begin, kPrefix) != 0) return "";
  return path.substr(begin, path.find('/', begin) - begin);
}

json task_json(const ServedTask& t) {
  return {{"name", t.name},
          {"method", t.method},
          {"num_classes", t.info.num_classes()},
          {"classes", t.info.class_names},
          {"trainable_parameters", t.trainable},
          {"backbone", t.info.backbone.at("name")},
          {"backbone_sha256", t.info.backbone_sha256},
          {"dataset", t.info.task},
          {"shares_batches", t.shares_batches},
          {"own_backbone", t.own_backbone}};
}

// The message of an error httplib answers before a handler runs.
std::string status_text(const httplib::Request& req, int status) {
  const bool form = media_type(req.get_header_value("Content-Type")) == "application/x-www-form-urlencoded";
  switch (status) {
    case 400:
      return "malformed request (its request line or headers, or a body without Content-Length)";
    case 404:
      return "no such path; GET / is the page, GET /v1/tasks lists the tasks";
    case 413:
      // httplib parses form bodies and refuses those over 8 KB: curl --data-binary sends images as forms.
      return form ? "the body was sent as a form (application/x-www-form-urlencoded); send the image with its "
                    "type (curl -H 'Content-Type: image/png' --data-binary @photo.png ...)"
                  : "the request body is over the size limit (--max-body-mb)";
    default:
      return "request failed";
  }
}

}  // namespace

struct TaskServer::Catalog {
  ServedTask task;
  int64_t img_size = 0;
};

void ServeOptions::validate() const {
  if (port < 0 || port > 65535) throw Error("--port must be in [0, 65535], got " + std::to_string(port));
  if (max_body_bytes < 1024) throw Error("--max-body-mb is too small to hold an image");
  if (http_threads < 1 || http_threads > 4096)
    throw Error("--http-threads must be in [1, 4096], got " + std::to_string(http_threads));
  batching.validate();
}

TaskServer::TaskServer(MultiTaskModel& model, ServeOptions options) : model_(model), options_(std::move(options)) {
  options_.validate();
  refresh_catalog();
  batcher_ = std::make_unique<RequestBatcher>(
      options_.batching,
      [this](const at::Tensor& images, const std::vector<std::string>& tasks) {
        const std::lock_guard<std::mutex> lock(model_mutex_);
        return model_.predict(images, tasks);
      },
      [this](int64_t n) { metrics_.record_batch(n); });
  http_ = std::make_unique<httplib::Server>();
  const auto threads = static_cast<size_t>(options_.http_threads);
  http_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  http_->set_payload_max_length(options_.max_body_bytes);
  // Headers and body leave in two writes: with Nagle's algorithm the second waits for the client's
  // delayed ACK, 40 ms on Linux, longer than a small model's whole forward pass.
  http_->set_tcp_nodelay(true);
  http_->set_keep_alive_timeout(2);  // a drain waits at most this long for idle keep-alive connections
  http_->set_read_timeout(10, 0);
  install_routes();
  port_ = options_.port == 0 ? http_->bind_to_any_port(options_.host)
                             : (http_->bind_to_port(options_.host, options_.port) ? options_.port : -1);
  if (port_ <= 0)
    throw Error("cannot listen on " + options_.host + ":" + std::to_string(options_.port) +
                " (port taken, or not an address of this machine)");
}

TaskServer::~TaskServer() {
  stop();
  batcher_->stop();
}

void TaskServer::refresh_catalog() {
  std::map<std::string, std::shared_ptr<const Catalog>> fresh;
  for (const auto& name : model_.task_names())
    fresh[name] = std::make_shared<const Catalog>(Catalog{model_.task(name), model_.img_size()});
  const std::unique_lock<std::shared_mutex> lock(catalog_mutex_);
  catalog_ = std::move(fresh);
}

void TaskServer::run() {
  if (!stop_requested_) http_->listen_after_bind();
  batcher_->stop();  // answers what is still queued
  finished_ = true;
}

void TaskServer::stop() {
  stop_requested_ = true;
  // A stop that comes before run() has started listening waits for it (run() checks the flag first).
  for (int i = 0; i < 500 && !finished_ && !http_->is_running(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  http_->stop();
}

void TaskServer::install_routes() {
  using httplib::Request;
  using httplib::Response;
  http_->set_pre_routing_handler([](const Request&, Response&) {
    t_request_start = Clock::now();
    t_request_started = true;
    return httplib::Server::HandlerResponse::Unhandled;
  });
  http_->set_logger([this](const Request& req, const Response& res) {
    std::string task = task_of_path(req.path);
    if (!task.empty()) {
      const std::shared_lock<std::shared_mutex> lock(catalog_mutex_);
      if (!catalog_.count(task)) task.clear();  // unknown names stay out of the labels
    }
    const double seconds =
        t_request_started ? std::chrono::duration<double>(Clock::now() - t_request_start).count() : 0.0;
    t_request_started = false;
    metrics_.record_request(task, res.status, seconds);
  });
  http_->set_error_handler([](const Request& req, Response& res) {
    if (res.body.empty()) send_error(res, res.status, status_text(req, res.status));
  });
  http_->set_exception_handler([](const Request&, Response& res, std::exception_ptr ep) {
    std::string what = "unknown error";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    send_error(res, 500, "internal error: " + what);
  });

  http_->Get("/", [](const Request&, Response& res) { res.set_content(web_page(), "text/html; charset=utf-8"); });
  http_->Get("/healthz", [](const Request&, Response& res) { res.set_content("ok\n", "text/plain"); });
  http_->Get("/metrics", [this](const Request&, Response& res) {
    res.set_content(metrics_.render(batcher_->queue_depth()), "text/plain; version=0.0.4");
  });
  http_->Get("/v1/tasks", [this](const Request&, Response& res) {
    json tasks = json::array();
    const std::shared_lock<std::shared_mutex> lock(catalog_mutex_);
    for (const auto& kv : catalog_) tasks.push_back(task_json(kv.second->task));
    send_json(res, 200, {{"tasks", tasks}, {"backbone_sha256", model_.backbone_sha256()}});
  });

  http_->Post(R"(/v1/tasks/([^/]+)/predict)", [this](const Request& req, Response& res) {
    const auto start = Clock::now();
    const std::string name = req.matches[1];
    std::shared_ptr<const Catalog> entry;
    {
      const std::shared_lock<std::shared_mutex> lock(catalog_mutex_);
      const auto it = catalog_.find(name);
      if (it != catalog_.end()) entry = it->second;
    }
    if (!entry) return send_error(res, 404, "no task named '" + name + "' is served; GET /v1/tasks lists them");
    const int64_t classes = entry->task.info.num_classes();
    int64_t top = 5;
    if (req.has_param("top")) {
      const std::string text = req.get_param_value("top");
      const bool digits = !text.empty() && text.size() <= 9 &&
                          std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
      top = digits ? std::stoll(text) : 0;
      if (top < 1) return send_error(res, 400, "top must be a positive integer, got '" + text + "'");
    }
    top = std::min(top, classes);

    const std::string* body = &req.body;
    std::string type = media_type(req.get_header_value("Content-Type"));
    std::string what = "request body";
    if (req.is_multipart_form_data()) {
      const httplib::MultipartFormData* file = nullptr;
      for (const auto& kv : req.files)
        if (!kv.second.content.empty() && (!file || kv.first == "image")) file = &kv.second;
      if (!file) return send_error(res, 400, "the multipart form data holds no file; send the image as a field named 'image'");
      body = &file->content;
      type = media_type(file->content_type);
      what = "uploaded file '" + file->filename + "'";
    } else if (!is_image_type(type)) {
      return send_error(res, 415,
                        "Content-Type '" + type + "' is not an image type: send the image's bytes with its type "
                        "(curl -H 'Content-Type: image/png' --data-binary @photo.png ...) or as multipart form data "
                        "(curl -F image=@photo.png ...)");
    }
    if (body->empty()) return send_error(res, 400, "the " + what + " is empty: send the image's bytes");
    if (!type.empty() && !is_image_type(type))
      return send_error(res, 415, "the " + what + " has type '" + type + "', not an image type");
    at::Tensor image;
    try {
      image = preprocess_image_bytes(reinterpret_cast<const uint8_t*>(body->data()), body->size(), what,
                                     entry->img_size, entry->task.info.normalization);
    } catch (const PixelLimitError& e) {
      return send_error(res, 413, e.what());
    } catch (const Error& e) {
      return send_error(res, 400, e.what());
    }
    auto future = batcher_->submit(name, image);
    if (!future) {
      res.set_header("Retry-After", "1");
      return send_error(res, 503, "the server is busy (its queue of --max-queue requests is full) or stopping; retry");
    }
    at::Tensor probs;
    try {
      probs = future->get();
    } catch (const std::exception& e) {
      const std::shared_lock<std::shared_mutex> lock(catalog_mutex_);
      if (!catalog_.count(name)) return send_error(res, 404, "task '" + name + "' was unloaded while the request waited");
      return send_error(res, 500, std::string("prediction failed: ") + e.what());
    }
    const auto [values, indices] = probs.topk(top);
    json preds = json::array();
    for (int64_t t = 0; t < top; ++t) {
      const int64_t c = indices[t].item<int64_t>();
      preds.push_back({{"class", entry->task.info.class_names.at(static_cast<size_t>(c))},
                       {"index", c},
                       {"prob", values[t].item<double>()}});
    }
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    send_json(res, 200, {{"task", name}, {"top", preds}, {"ms", ms}});
  });

  // Admin: loading and unloading tasks at run time.
  const auto authorised = [this](const Request& req, Response& res) {
    if (options_.admin_token.empty()) {
      send_error(res, 403, "loading and unloading tasks is off; start sct serve with --admin-token to allow it");
      return false;
    }
    if (!same_secret(req.get_header_value("Authorization"), "Bearer " + options_.admin_token)) {
      res.set_header("WWW-Authenticate", "Bearer");
      send_error(res, 401, "this needs the admin token: Authorization: Bearer <token>");
      return false;
    }
    return true;
  };
  http_->Put(R"(/v1/tasks/([^/]+))", [this, authorised](const Request& req, Response& res) {
    if (!authorised(req, res)) return;
    const std::string name = req.matches[1];
    std::string dir = req.body;
    while (!dir.empty() && std::isspace(static_cast<unsigned char>(dir.back()))) dir.pop_back();
    if (dir.empty()) return send_error(res, 400, "the body must name a task folder on the server");
    try {
      const std::lock_guard<std::mutex> lock(model_mutex_);
      if (model_.has_task(name))
        return send_error(res, 409, "a task named '" + name + "' is already served; DELETE it first");
      model_.add_task(name, dir);
      refresh_catalog();
      send_json(res, 201, task_json(model_.task(name)));
    } catch (const Error& e) {
      send_error(res, 400, e.what());
    }
  });
  http_->Delete(R"(/v1/tasks/([^/]+))", [this, authorised](const Request& req, Response& res) {
    if (!authorised(req, res)) return;
    const std::string name = req.matches[1];
    const std::lock_guard<std::mutex> lock(model_mutex_);
    if (!model_.has_task(name)) return send_error(res, 404, "no task named '" + name + "' is served");
    model_.remove_task(name);
    refresh_catalog();
    send_json(res, 200, {{"removed", name}});
  });
}

// ---------------------------------------------------------------------------------------------------

namespace {
int g_signal_pipe[2] = {-1, -1};
extern "C" void on_stop_signal(int) {
  const char c = 1;
  [[maybe_unused]] const ssize_t n = write(g_signal_pipe[1], &c, 1);  // async-signal-safe
}
}  // namespace

int serve_until_signalled(MultiTaskModel& model, const ServeOptions& options, std::ostream& log) {
  TaskServer server(model, options);
  if (pipe(g_signal_pipe) != 0) throw Error("sct serve: cannot create the signal pipe");
  // A handler, not a blocked-signal thread: LibTorch's and OpenMP's threads already run with the signals
  // unblocked, and any of them could receive it.
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  std::thread watcher([&] {
    char c = 0;
    while (read(g_signal_pipe[0], &c, 1) < 0 && errno == EINTR) {
    }
    if (c == 1) log << "sct serve: draining in-flight requests and stopping" << std::endl;
    server.stop();
  });
  log << "sct serve: listening on http://" << options.host << ":" << server.port() << " ("
      << model.task_names().size() << " tasks, max batch " << options.batching.max_batch << ", max wait "
      << options.batching.max_wait_ms << " ms)" << std::endl;
  server.run();
  const char done = 2;  // ends the watcher when run() ended without a signal
  [[maybe_unused]] const ssize_t n = write(g_signal_pipe[1], &done, 1);
  watcher.join();
  signal(SIGTERM, SIG_DFL);
  signal(SIGINT, SIG_DFL);
  close(g_signal_pipe[0]);
  close(g_signal_pipe[1]);
  log << "sct serve: stopped" << std::endl;
  return 0;
}

}  // namespace sct
