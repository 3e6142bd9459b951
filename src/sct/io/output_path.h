// Outputs checked before any work: a command whose output names one of its inputs (or another of its
// outputs) would destroy what it reads, or write one result over the other.
#pragma once
#include <string>
#include <vector>

namespace sct {

struct NamedPath {
  std::string flag;  // how the user gave it: "--out", "--checkpoint", "image argument"
  std::string path;  // "" = not given (skipped)
};

// Throws sct::Error naming both flags when two outputs, or an output and an input, are the same file
// (compared after resolving links and "..", so "a/../c" and "c" are one file).
void check_outputs_are_new(const std::vector<NamedPath>& outputs, const std::vector<NamedPath>& inputs);

}  // namespace sct
