// sct: Salient Channel Tuning for vision transformers (arXiv 2309.08513), from the command line.
#include <c10/util/Exception.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>

#include "sct/cli/commands.h"
#include "sct/core/error.h"
#include "sct/runtime/blas.h"
#include "sct/runtime/memory.h"

int main(int argc, char** argv) {
  sct::ensure_fast_blas(argv);  // may re-execute this program once, before any work
  sct::keep_freed_memory();
  CLI::App app{"sct: adapt pretrained vision transformers with Salient Channel Tuning"};
  app.require_subcommand(1);
  sct::cli::add_info_command(app);
  sct::cli::add_convert_command(app);
  sct::cli::add_features_command(app);
  sct::cli::add_preprocess_command(app);
  sct::cli::add_select_command(app, argc, argv);
  sct::cli::add_train_command(app, argc, argv);
  sct::cli::add_eval_command(app);
  sct::cli::add_predict_command(app);
  sct::cli::add_merge_command(app);
  sct::cli::add_compare_command(app);
  sct::cli::add_pretrain_command(app, argc, argv);
  sct::cli::add_suite_command(app);
  sct::cli::add_fewshot_command(app);
  sct::cli::add_domain_command(app);
  sct::cli::add_bench_command(app);
  sct::cli::add_serve_command(app);
  // CLI11 would answer an unknown command with "A subcommand is required".
  const std::vector<CLI::App*> commands = app.get_subcommands([](CLI::App*) { return true; });
  if (argc > 1 && argv[1][0] != '-' &&
      std::none_of(commands.begin(), commands.end(), [&](CLI::App* c) { return c->get_name() == argv[1]; })) {
    std::string names;
    for (const CLI::App* c : commands) names += (names.empty() ? "" : ", ") + c->get_name();
    std::cerr << "sct: unknown command '" << argv[1] << "'; commands: " << names << "\n";
    return 2;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const sct::Error& e) {
    std::cerr << "sct: error: " << e.what() << "\n";
    return 1;
  } catch (const c10::Error& e) {
    std::cerr << "sct: error: " << e.what_without_backtrace() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "sct: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
