// `sct serve`: one backbone, many task folders, one HTTP server (serve/task_server.h).
#include <CLI/CLI.hpp>
#include <iostream>
#include <utility>
#include <vector>

#include "sct/cli/commands.h"
#include "sct/cli/model_flags.h"
#include "sct/core/error.h"
#include "sct/serve/multi_task_model.h"
#include "sct/serve/task_server.h"

namespace sct::cli {
namespace {

struct ServeFlags {
  ModelFlags model;
  std::vector<std::string> tasks;  // NAME=TASK_DIR
  ServeOptions server;
  double max_body_mb = 32.0;
  bool force = false;
};

std::pair<std::string, std::string> parse_task_flag(const std::string& text) {
  const size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == text.size())
    throw Error("--task takes NAME=TASK_DIR, got '" + text + "'");
  return {text.substr(0, eq), text.substr(eq + 1)};
}

int run_serve(ServeFlags flags) {
  if (!(flags.max_body_mb > 0.0 && flags.max_body_mb <= 4096.0))
    throw Error("--max-body-mb must be in (0, 4096], got " + std::to_string(flags.max_body_mb));
  flags.server.max_body_bytes = static_cast<size_t>(flags.max_body_mb * 1024 * 1024);
  flags.server.validate();
  std::vector<std::pair<std::string, std::string>> tasks;
  for (const auto& t : flags.tasks) tasks.push_back(parse_task_flag(t));
  // The first build applies the runtime flags and resolves the precision; a task needing a backbone of
  // its own (bias, full) builds another.
  BuiltModel shared = build_model(flags.model, std::cerr);
  MultiTaskModel model(
      [&flags, &shared] {
        if (!shared.model.is_empty()) return std::exchange(shared.model, Backbone{nullptr});
        return build_model(flags.model, std::cerr).model;
      },
      shared.precision, flags.force);
  for (const auto& [name, dir] : tasks) {
    model.add_task(name, dir);
    const ServedTask& t = model.task(name);
    std::cerr << "task " << name << ": " << t.method << ", " << t.info.num_classes() << " classes, "
              << t.trainable << " trainable parameters" << (t.own_backbone ? ", its own backbone" : "") << "\n";
  }
  return serve_until_signalled(model, flags.server, std::cerr);
}

}  // namespace

void add_serve_command(CLI::App& app) {
  auto flags = std::make_shared<ServeFlags>();
  CLI::App* cmd = app.add_subcommand(
      "serve",
      "Serve trained task folders over HTTP from one backbone, batching requests across tasks. Example:\n"
      "  sct serve --checkpoint ViT-B_16.npz --task cifar=runs/cifar100/task --task dtd=runs/dtd/task\n"
      "  curl -H 'Content-Type: image/jpeg' --data-binary @photo.jpg localhost:8080/v1/tasks/cifar/predict\n"
      "Endpoints: GET / (a page), /healthz, /v1/tasks, /metrics; POST /v1/tasks/NAME/predict?top=5;\n"
      "PUT and DELETE /v1/tasks/NAME with --admin-token. SIGTERM or Ctrl-C drains and stops.");
  flags->model.add_to(*cmd);
  cmd->add_option("--task", flags->tasks, "NAME=TASK_DIR, a task folder written by sct train (repeatable)");
  cmd->add_option("--host", flags->server.host, "address to listen on")->capture_default_str();
  cmd->add_option("--port", flags->server.port, "port (0: any free one, printed at start)")->capture_default_str();
  cmd->add_option("--max-batch", flags->server.batching.max_batch, "images per forward pass at most")
      ->capture_default_str();
  cmd->add_option("--max-wait-ms", flags->server.batching.max_wait_ms,
                  "how long the oldest waiting request waits for others to share its batch")
      ->capture_default_str();
  cmd->add_option("--max-queue", flags->server.batching.max_queue,
                  "requests waiting at most; more are answered 503 with Retry-After")
      ->capture_default_str();
  cmd->add_option("--max-body-mb", flags->max_body_mb, "request body limit (413 above it)")->capture_default_str();
  cmd->add_option("--http-threads", flags->server.http_threads, "connections served at once")->capture_default_str();
  cmd->add_option("--admin-token", flags->server.admin_token,
                  "allow PUT and DELETE /v1/tasks/NAME with 'Authorization: Bearer TOKEN' (off without it)");
  cmd->add_flag("--force", flags->force, "serve tasks even if their backbone fingerprint differs");
  cmd->callback([flags] {
    const int code = run_serve(*flags);
    if (code != 0) throw CLI::RuntimeError(code);
  });
}

}  // namespace sct::cli
