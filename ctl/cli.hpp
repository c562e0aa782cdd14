// chatctl's command line from the control command registry: subcommands, requests, completion.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "protocol/control.hpp"

namespace chat::ctl {

// The registry's commands in chatctl's order (by cli_rank, then table order):
// the order of --help, the unknown-command hint and the completion.
std::vector<const proto::ControlCommandSpec*> cli_commands();

// One CLI11 subcommand per registry entry, its arguments declared from the
// entry (kWord: one positional word, kWords: the remaining words, kNone: not
// on the command line).
class CommandLine {
 public:
  explicit CommandLine(CLI::App& app);
  CommandLine(const CommandLine&) = delete;
  CommandLine& operator=(const CommandLine&) = delete;

  // After a successful parse: the request for the chosen subcommand (words
  // joined with single spaces; an optional kWords argument left empty is not
  // sent), or nullopt if none was chosen.
  std::optional<proto::ControlRequest> request() const;

 private:
  struct Value {
    std::string word;
    std::vector<std::string> words;
  };
  struct Entry {
    const proto::ControlCommandSpec* spec = nullptr;
    CLI::App* sub = nullptr;
    std::vector<Value> values;  // one per spec->args, bound by CLI11 (never resized)
  };
  std::vector<std::unique_ptr<Entry>> entries_;
};

// The bash completion script for chatctl (installed as
// /usr/share/bash-completion/completions/chatctl, generated at build time by
// `chatctl --bash-completion`): the global options, the registry's commands, and
// connected nicks (asked of the daemon) for a command whose first argument is a NICK.
std::string bash_completion();

}  // namespace chat::ctl
