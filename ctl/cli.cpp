// chatctl's subcommands, requests and bash completion, all derived from the command registry.
#include "ctl/cli.hpp"

#include <algorithm>
#include <utility>

namespace chat::ctl {
namespace {

// "GROUP SUB" as {GROUP, SUB}; one word as {"", WORD}.
std::pair<std::string_view, std::string_view> split_words(std::string_view words) {
  const auto space = words.find(' ');
  if (space == std::string_view::npos) {
    return {"", words};
  }
  return {words.substr(0, space), words.substr(space + 1)};
}

// The subcommands of `group`, in order.
std::vector<std::string> group_members(
    const std::vector<const proto::ControlCommandSpec*>& commands, std::string_view group) {
  std::vector<std::string> words;
  for (const auto* command : commands) {
    const auto [g, word] = split_words(cli_words(*command));
    if (g == group) {
      words.emplace_back(word);
    }
  }
  return words;
}

// The group's subcommand under `app`, made on first use; its help lists its members.
CLI::App* group_of(CLI::App& app, const std::vector<const proto::ControlCommandSpec*>& commands,
                   std::string_view group) {
  const std::string name(group);
  for (auto* sub : app.get_subcommands({})) {
    if (sub->get_name() == name) {
      return sub;
    }
  }
  auto* sub =
      app.add_subcommand(name, name + " commands: " + join_words(group_members(commands, group)));
  sub->require_subcommand(1);
  return sub;
}

}  // namespace

std::vector<const proto::ControlCommandSpec*> cli_commands() {
  return cli_commands(proto::control_commands());
}

std::string_view cli_words(const proto::ControlCommandSpec& command) {
  return command.cli.empty() ? command.name : command.cli;
}

std::vector<const proto::ControlCommandSpec*> cli_commands(
    const std::vector<proto::ControlCommandSpec>& registry) {
  std::vector<const proto::ControlCommandSpec*> commands;
  commands.reserve(registry.size());
  for (const auto& command : registry) {
    commands.push_back(&command);
  }
  std::stable_sort(commands.begin(), commands.end(),
                   [](const auto* a, const auto* b) { return a->cli_rank < b->cli_rank; });
  return commands;
}

CommandLine::CommandLine(CLI::App& app) : CommandLine(app, cli_commands()) {}

CommandLine::CommandLine(CLI::App& app,
                         const std::vector<const proto::ControlCommandSpec*>& commands) {
  for (const auto* spec : commands) {
    auto entry = std::make_unique<Entry>();
    entry->spec = spec;
    const auto [group, word] = split_words(cli_words(*spec));
    CLI::App* parent = &app;
    if (!group.empty()) {
      parent = group_of(app, commands, group);
    }
    entry->sub = parent->add_subcommand(std::string(word), std::string(spec->help));
    entry->values.resize(spec->args.size());
    for (std::size_t i = 0; i < spec->args.size(); ++i) {
      const proto::ControlArg& arg = spec->args[i];
      CLI::Option* option = nullptr;
      if (arg.cli == proto::ArgCli::kWord) {
        option = entry->sub->add_option(std::string(arg.name), entry->values[i].word,
                                        std::string(arg.help));
      } else if (arg.cli == proto::ArgCli::kWords) {
        option = entry->sub->add_option(std::string(arg.name), entry->values[i].words,
                                        std::string(arg.help));
      } else {
        continue;
      }
      if (arg.required) {
        option->required();
      }
      option->type_name(std::string(arg.type_name));
    }
    entries_.push_back(std::move(entry));
  }
}

CLI::App* CommandLine::subcommand(std::string_view name) const {
  for (const auto& e : entries_) {
    if (e->spec->name == name) {
      return e->sub;
    }
  }
  return nullptr;
}

std::optional<proto::ControlRequest> CommandLine::request() const {
  for (const auto& entry : entries_) {
    if (!entry->sub->parsed()) {
      continue;
    }
    proto::ControlRequest request;
    request.command = entry->spec;
    request.args.resize(entry->spec->args.size());
    for (std::size_t i = 0; i < entry->spec->args.size(); ++i) {
      const proto::ControlArg& arg = entry->spec->args[i];
      if (arg.cli == proto::ArgCli::kWord) {
        request.args[i] = entry->values[i].word;
      } else if (arg.cli == proto::ArgCli::kWords) {
        std::string text = join_words(entry->values[i].words);
        if (!text.empty() || arg.required) {  // an empty optional one means the default
          request.args[i] = std::move(text);
        }
      }
    }
    return request;
  }
  return std::nullopt;
}

std::string bash_completion() {
  return bash_completion(cli_commands());
}

std::string bash_completion(const std::vector<const proto::ControlCommandSpec*>& commands) {
  std::vector<std::string> names;
  std::vector<std::string> groups;
  std::vector<std::string> nick_commands;
  for (const auto* command : commands) {
    const auto [group, word] = split_words(cli_words(*command));
    if (!group.empty()) {
      if (std::find(groups.begin(), groups.end(), group) == groups.end()) {
        groups.emplace_back(group);
        names.emplace_back(group);
      }
      continue;
    }
    names.emplace_back(word);
    if (!command->args.empty() && command->args.front().type_name == "NICK" &&
        command->args.front().cli == proto::ArgCli::kWord) {
      nick_commands.emplace_back(word);
    }
  }
  std::string nick_pattern = join_words(nick_commands);
  std::replace(nick_pattern.begin(), nick_pattern.end(), ' ', '|');
  std::string out =
      "# bash completion for chatctl(8): options, subcommands, and nicks for a command whose\n"
      "# first argument is a NICK. Generated by `chatctl --bash-completion` from the control\n"
      "# command registry (protocol/control.cpp): do not edit.\n"
      "_chatctl() {\n"
      "\tlocal cur prev words cword\n"
      "\t_init_completion || return\n"
      "\n"
      "\tcase $prev in\n"
      "\t-s | --socket)\n"
      "\t\t_filedir\n"
      "\t\treturn\n"
      "\t\t;;\n"
      "\t-t | --timeout)\n"
      "\t\treturn\n"
      "\t\t;;\n"
      "\tesac\n"
      "\n"
      "\tlocal commands=\"" +
      join_words(names) +
      "\"\n"
      "\tlocal i sub=\"\" socket_args=()\n"
      "\tfor ((i = 1; i < cword; i++)); do\n"
      "\t\tcase ${words[i]} in\n"
      "\t\t-s | --socket) socket_args=(--socket \"${words[i + 1]}\") ;;\n"
      "\t\t-t | --timeout) ((i++)) ;;\n"
      "\t\t-*) ;;\n"
      "\t\t*)\n"
      "\t\t\tif [[ -z $sub && ${words[i - 1]} != @(-s|--socket) ]]; then\n"
      "\t\t\t\tsub=${words[i]}\n"
      "\t\t\tfi\n"
      "\t\t\t;;\n"
      "\t\tesac\n"
      "\tdone\n"
      "\n"
      "\tif [[ -z $sub ]]; then\n"
      "\t\tif [[ $cur == -* ]]; then\n"
      "\t\t\tCOMPREPLY=($(compgen -W '--socket --timeout --json --version --help' -- \"$cur\"))\n"
      "\t\telse\n"
      "\t\t\tCOMPREPLY=($(compgen -W \"$commands\" -- \"$cur\"))\n"
      "\t\tfi\n"
      "\t\treturn\n"
      "\tfi\n";
  if (!groups.empty()) {
    out +=
        "\n"
        "\tif [[ ${words[cword - 1]} == \"$sub\" ]]; then\n"
        "\t\tcase $sub in\n";
    for (const auto& group : groups) {
      out += "\t\t" + group + ")\n\t\t\tCOMPREPLY=($(compgen -W \"" +
             join_words(group_members(commands, group)) +
             "\" -- \"$cur\"))\n\t\t\treturn\n\t\t\t;;\n";
    }
    out +=
        "\t\tesac\n"
        "\tfi\n";
  }
  if (!nick_commands.empty()) {
    out +=
        "\n"
        "\tif [[ $sub == @(" +
        nick_pattern +
        ") && ${words[cword - 1]} == \"$sub\" ]]; then\n"
        "\t\t# Ask the running daemon, briefly; no completion if it does not answer.\n"
        "\t\tlocal nicks\n"
        "\t\tnicks=$(chatctl \"${socket_args[@]}\" --timeout 1 --json who 2>/dev/null |\n"
        "\t\t\tgrep -o '\"nick\": *\"[^\"\\\\]*\"' | sed 's/.*\"\\([^\"]*\\)\"$/\\1/')\n"
        "\t\tCOMPREPLY=($(compgen -W \"$nicks\" -- \"$cur\"))\n"
        "\tfi\n";
  }
  out +=
      "} &&\n"
      "\tcomplete -F _chatctl chatctl\n";
  return out;
}

std::string join_words(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) {
    if (!out.empty()) {
      out.push_back(' ');
    }
    out += w;
  }
  return out;
}

}  // namespace chat::ctl
