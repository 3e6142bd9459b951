#include "sct/runtime/spawn_self.h"

#include <unistd.h>

#include <cstdlib>

extern char** environ;

#include "sct/core/error.h"

namespace sct {

pid_t spawn_self(const std::vector<std::string>& args, const std::vector<std::pair<std::string, std::string>>& env,
                 int stdout_fd) {
  // argv and the environment are built before fork: the child of a threaded process may only call
  // async-signal-safe functions (no malloc, so no setenv) until it executes.
  std::string self = "sct";
  std::vector<std::string> copies = args;
  std::vector<char*> argv{self.data()};
  for (std::string& a : copies) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> entries;
  for (const auto& [name, value] : env) entries.push_back(name + "=" + value);
  for (char** e = environ; *e; ++e) {
    const std::string entry = *e;
    const std::string name = entry.substr(0, entry.find('='));
    bool replaced = false;
    for (const auto& kv : env) replaced = replaced || kv.first == name;
    if (!replaced) entries.push_back(entry);
  }
  std::vector<char*> envp;
  for (std::string& e : entries) envp.push_back(e.data());
  envp.push_back(nullptr);

  const pid_t pid = fork();
  if (pid < 0) throw Error("cannot start a child sct process (fork failed)");
  if (pid == 0) {
    if (stdout_fd >= 0) {
      dup2(stdout_fd, STDOUT_FILENO);
      close(stdout_fd);
    }
    execve("/proc/self/exe", argv.data(), envp.data());
    _exit(127);
  }
  return pid;
}

}  // namespace sct
