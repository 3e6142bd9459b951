// `sct convert`: any supported checkpoint -> safetensors under timm names.
#include <CLI/CLI.hpp>
#include <iostream>

#include "sct/cli/commands.h"
#include "sct/io/checkpoint.h"

namespace sct::cli {
namespace {

struct ConvertFlags {
  std::string input, output;
};

void run_convert(const ConvertFlags& flags) {
  const LoadReport report = convert_checkpoint(flags.input, flags.output);
  std::cout << "wrote " << flags.output << ": " << report.loaded.size() << " tensors (from " << report.format
            << "), " << report.metadata.size() << " metadata entries kept\n";
  for (const auto& s : report.ignored) std::cout << "  ignored " << s << "\n";
}

}  // namespace

void add_convert_command(CLI::App& app) {
  auto flags = std::make_shared<ConvertFlags>();
  CLI::App* cmd = app.add_subcommand("convert", "convert a Google .npz (or any readable checkpoint) to safetensors");
  cmd->add_option("input", flags->input, "checkpoint to read (.npz or .safetensors)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("output", flags->output, "safetensors file to write (atomically)")->required();
  cmd->callback([flags] { run_convert(*flags); });
}

}  // namespace sct::cli
