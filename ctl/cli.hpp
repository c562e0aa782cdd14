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
// The same order over another list of commands (tests).
std::vector<const proto::ControlCommandSpec*> cli_commands(
    const std::vector<proto::ControlCommandSpec>& commands);

// `words` joined with single spaces.
std::string join_words(const std::vector<std::string>& words);

// chatctl's words for a command: its `cli` or, by default, its name.
std::string_view cli_words(const proto::ControlCommandSpec& command);

// One CLI11 subcommand per registry entry, its arguments declared from the
// entry (kWord: one positional word, kWords: the remaining words, kNone: not
// on the command line). A command whose words are "GROUP SUB" becomes SUB under a
// subcommand GROUP (made once, its help listing the SUBs).
class CommandLine {
 public:
  explicit CommandLine(CLI::App& app);
  CommandLine(CLI::App& app, const std::vector<const proto::ControlCommandSpec*>& commands);
  CommandLine(const CommandLine&) = delete;
  CommandLine& operator=(const CommandLine&) = delete;

  // After a successful parse: the request for the chosen subcommand (words
  // joined with single spaces; an optional kWords argument left empty is not
  // sent), or nullopt if none was chosen.
  std::optional<proto::ControlRequest> request() const;
  // The CLI11 subcommand of a registry entry (for chatctl-only options such as
  // `--password-stdin`); null if there is none.
  CLI::App* subcommand(std::string_view name) const;

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
// connected nicks (asked of the daemon) for a one-word command whose first argument is a
// NICK, and the second words of grouped commands.
std::string bash_completion();
std::string bash_completion(const std::vector<const proto::ControlCommandSpec*>& commands);

}  // namespace chat::ctl
