// --method and --method-option, with SCT's options also as flags of their own (--k, --position,
// --strategy, --blocks, --reference-mlp-site, --scale, --scale-on-x, --selection): documented aliases
// of sct's method options. The flags become one method config; the registry checks it.
#pragma once
#include <cstdint>
#include <iosfwd>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace sct::cli {

struct MethodFlags {
  std::string method = "sct";
  std::vector<std::string> options;  // key=value
  // SCT's aliases; empty or false = not given.
  std::string k, position, strategy, blocks, scale, selection;
  bool reference_mlp_site = false, scale_on_x = false;
  int64_t select_batch = 32;  // the batch of a method's pass over the training data (SCT's selection)

  // `with_method`: --method and --method-option (select has neither: it is SCT's); `with_module`: the
  // options of the trained module (--scale, --scale-on-x, --selection), not only the selection's.
  void add_to(CLI::App& cmd, bool with_method, bool with_module);
  // {"name": method, options...}. `--scale recipe` asks for the task recipe's scale and scale_on_x
  // (resolved by the task run). An alias reaches only a method that has its option: compare and suite
  // give every run the same flags (`--selection F` for sct and linear alike), so for another method it
  // is dropped with a note on `log`; --method-option stays strict. Throws sct::Error for a malformed
  // option or an unreadable selection file.
  nlohmann::json config(std::ostream& log) const;
};

}  // namespace sct::cli
