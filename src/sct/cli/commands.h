// Each `sct` subcommand registers itself on the top-level CLI::App.
#pragma once

namespace CLI {
class App;
}

namespace sct::cli {

void add_info_command(CLI::App& app);
void add_convert_command(CLI::App& app);
void add_features_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_serve_command(CLI::App& app);
void add_preprocess_command(CLI::App& app);
void add_select_command(CLI::App& app, int argc, char** argv);
void add_train_command(CLI::App& app, int argc, char** argv);
void add_eval_command(CLI::App& app);
void add_predict_command(CLI::App& app);
void add_merge_command(CLI::App& app);
void add_compare_command(CLI::App& app);
// Records its own command line in the backbone it writes.
void add_pretrain_command(CLI::App& app, int argc, char** argv);
void add_suite_command(CLI::App& app);
void add_fewshot_command(CLI::App& app);
void add_domain_command(CLI::App& app);

}  // namespace sct::cli
