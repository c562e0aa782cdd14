// The control command registry: every entry complete (help, handler, renderer), its bounds
// enforced exactly, hostile arguments refused for every command, chatctl's CLI and bash
// completion derived from it.
#include <gtest/gtest.h>

#include <set>

#include "ctl/cli.hpp"
#include "ctl/render.hpp"
#include "daemon/control.hpp"
#include "protocol/control.hpp"

namespace chat {
namespace {

using proto::ArgCli;
using proto::ArgKind;
using proto::ControlCommandSpec;
using proto::ControlRequest;
using proto::ControlRequestError;
namespace result = proto::control_result;

// A request for `command` with every required argument set to "x" (valid for every kind),
// plus `extra` (already-JSON members, with their leading comma).
std::string request_json(const ControlCommandSpec& command, std::string_view skip = "",
                         std::string_view extra = "") {
  std::string json = R"({"type":")" + std::string(command.name) + "\"";
  for (const auto& arg : command.args) {
    if (arg.required && arg.name != skip) {
      json += ",\"" + std::string(arg.name) + "\":\"x\"";
    }
  }
  return json + std::string(extra) + "}";
}

ControlRequestError error_of(const std::string& payload) {
  auto parsed = proto::parse_control_request(payload);
  EXPECT_TRUE(std::holds_alternative<ControlRequestError>(parsed)) << payload;
  return std::holds_alternative<ControlRequestError>(parsed) ? std::get<ControlRequestError>(parsed)
                                                             : ControlRequestError{};
}

TEST(ControlRegistry, EveryCommandHasHelpHandlerAndRenderer) {
  ASSERT_FALSE(proto::control_commands().empty());
  for (const auto& command : proto::control_commands()) {
    EXPECT_FALSE(command.help.empty()) << command.name;
    EXPECT_NE(daemon::control_handler(command.name), nullptr) << command.name << ": no handler";
    EXPECT_TRUE(ctl::has_renderer(command.name)) << command.name << ": no renderer";
  }
  EXPECT_EQ(daemon::control_handler("shutdown"), nullptr);
  EXPECT_FALSE(ctl::has_renderer("shutdown"));
}

TEST(ControlRegistry, NamesAreUniqueAndArgumentsWellFormed) {
  std::set<std::string_view> names;
  for (const auto& command : proto::control_commands()) {
    EXPECT_TRUE(names.insert(command.name).second) << "twice: " << command.name;
    EXPECT_EQ(proto::find_control_command(command.name), &command);
    EXPECT_EQ(command.name.find_first_of(" \t\"\\"), std::string_view::npos) << command.name;
    std::set<std::string_view> args;
    bool optional_seen = false;
    bool words_seen = false;
    for (const auto& arg : command.args) {
      EXPECT_TRUE(args.insert(arg.name).second) << command.name << " " << arg.name;
      EXPECT_NE(arg.name, "type") << command.name;
      if (arg.kind == ArgKind::kText) {
        EXPECT_GT(arg.max_bytes, 0U) << command.name << " " << arg.name;
      }
      if (arg.cli == ArgCli::kNone) {
        continue;
      }
      // On chatctl's command line: described, and positionals CLI11 can tell apart.
      EXPECT_FALSE(arg.help.empty()) << command.name << " " << arg.name;
      EXPECT_FALSE(arg.type_name.empty()) << command.name << " " << arg.name;
      EXPECT_FALSE(words_seen) << command.name << ": a word after the remaining words";
      EXPECT_FALSE(optional_seen && arg.required) << command.name << ": required after optional";
      optional_seen = optional_seen || !arg.required;
      words_seen = arg.cli == ArgCli::kWords;
    }
  }
  EXPECT_EQ(proto::find_control_command("shutdown"), nullptr);
}

TEST(ControlRegistry, ReadOnlyCommandsAreTheDocumentedOnes) {
  std::vector<std::string> read_only;
  for (const auto& command : proto::control_commands()) {
    if (daemon::is_read_only(command)) {
      read_only.emplace_back(command.name);
    }
  }
  EXPECT_EQ(read_only, (std::vector<std::string>{"status", "who", "version", "list-commands"}));
}

TEST(ControlRegistry, TextBoundsAreExactForEveryCommand) {
  // kick reason <= 400 bytes and say message <= 32 000 (protocol/control.hpp) among them.
  EXPECT_EQ(proto::find_control_command("kick")->args.at(1).max_bytes, proto::kMaxKickReason);
  EXPECT_EQ(proto::find_control_command("say")->args.at(0).max_bytes, proto::kMaxSayMessage);
  int checked = 0;
  for (const auto& command : proto::control_commands()) {
    for (const auto& arg : command.args) {
      if (arg.kind != ArgKind::kText) {
        continue;
      }
      ++checked;
      const std::string name(arg.name);
      const auto with = [&](const std::string& value) {
        return request_json(command, arg.name, ",\"" + name + "\":\"" + value + "\"");
      };
      // At the bound in two-byte characters when it is even, then one byte more.
      const std::string at_bound =
          arg.max_bytes % 2 == 0 ? [&] {
            std::string s;
            for (std::size_t i = 0; i < arg.max_bytes / 2; ++i) {
              s += "\xc3\xa9";
            }
            return s;
          }()
                                 : std::string(arg.max_bytes, 'a');
      auto ok = proto::parse_control_request(with(at_bound));
      ASSERT_TRUE(std::holds_alternative<ControlRequest>(ok)) << command.name << " " << name;
      EXPECT_EQ(*std::get<ControlRequest>(ok).arg(arg.name), at_bound);
      const auto over = error_of(with(at_bound + "a"));
      EXPECT_EQ(over.result, result::kBadMessage);
      EXPECT_EQ(over.type, command.name);
      EXPECT_EQ(over.message,
                name + " is too long (at most " + std::to_string(arg.max_bytes) + " bytes)");
      const auto huge = error_of(with(std::string(60000, 'a')));
      EXPECT_EQ(huge.result, result::kBadMessage);
    }
  }
  EXPECT_EQ(checked, 2);
}

TEST(ControlRegistry, HostileArgumentsAreRefusedForEveryCommand) {
  for (const auto& command : proto::control_commands()) {
    const std::string type(command.name);
    // Undeclared members are ignored, whatever they hold.
    auto extra = proto::parse_control_request(
        request_json(command, "", R"(,"zz":[[{"a":null}]],"n":1e400)"));
    EXPECT_TRUE(std::holds_alternative<ControlRequest>(extra) ||
                std::get<ControlRequestError>(extra).result == result::kBadRequest)
        << type;
    for (const auto& arg : command.args) {
      const std::string name(arg.name);
      const std::string needs = type + " needs a string \"" + name + "\"";
      const std::string must = type + " \"" + name + "\" must be a string";
      for (const std::string bad : {"7", "null", "[\"x\"]", "{}", "true", "-0.5"}) {
        const auto e = error_of(request_json(command, arg.name, ",\"" + name + "\":" + bad));
        EXPECT_EQ(e.result, result::kBadRequest) << type << " " << name << " " << bad;
        EXPECT_EQ(e.type, type);
        EXPECT_EQ(e.message, arg.required ? needs : must) << bad;
      }
      if (arg.required) {
        const auto missing = error_of(request_json(command, arg.name));
        EXPECT_EQ(missing.result, result::kBadRequest);
        EXPECT_EQ(missing.message, needs);
      }
      if (arg.kind == ArgKind::kText) {
        for (const std::string bad : {R"("")", R"("a\nb")", R"("\u001b[2J")", R"("\u0085")"}) {
          const auto e = error_of(request_json(command, arg.name, ",\"" + name + "\":" + bad));
          EXPECT_EQ(e.result, result::kBadMessage) << type << " " << name << " " << bad;
          EXPECT_EQ(e.message, name + " must be non-empty text without control characters");
        }
      }
    }
  }
}

// chatctl's command line, parsed in-process.
std::optional<std::string> cli_request(std::vector<std::string> args) {
  CLI::App app;
  app.require_subcommand(1);
  const ctl::CommandLine commands(app);
  std::reverse(args.begin(), args.end());  // CLI11 takes them last to first
  app.parse(args);
  const auto request = commands.request();
  return request ? std::optional(proto::encode_control_request(*request)) : std::nullopt;
}

TEST(ChatctlCli, RequestsComeFromTheRegistry) {
  EXPECT_EQ(cli_request({"who"}), R"({"type":"who"})");
  EXPECT_EQ(cli_request({"list-commands"}), R"({"type":"list-commands"})");
  EXPECT_EQ(cli_request({"kick", "pat"}), R"({"type":"kick","nick":"pat"})");
  EXPECT_EQ(cli_request({"kick", "pat", ""}), R"({"type":"kick","nick":"pat"})");
  EXPECT_EQ(cli_request({"kick", "pat", "too", "much"}),
            R"({"type":"kick","nick":"pat","reason":"too much"})");
  EXPECT_EQ(cli_request({"say", ""}), R"({"type":"say","message":""})");
  EXPECT_EQ(cli_request({"say", "a", "\"b\""}), R"({"type":"say","message":"a \"b\""})");
  EXPECT_THROW(cli_request({"kick"}), CLI::ParseError);
  EXPECT_THROW(cli_request({"who", "extra"}), CLI::ParseError);
  EXPECT_THROW(cli_request({"shutdown"}), CLI::ParseError);
}

TEST(ChatctlCli, HelpOrderPutsWhoFirstAndKeepsTheWireOrderOtherwise) {
  std::vector<std::string> names;
  for (const auto* command : ctl::cli_commands()) {
    names.emplace_back(command->name);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"who", "status", "kick", "say", "version",
                                             "list-commands", "account-add", "account-del",
                                             "account-passwd", "account-list"}));
  EXPECT_EQ(names.size(), proto::control_commands().size());
}

TEST(ChatctlCli, CompletionOffersEveryCommandAndNicksForNickCommands) {
  const std::string script = ctl::bash_completion();
  // One word per command, a group's once (its second words are offered after it).
  EXPECT_NE(script.find("\tlocal commands=\"who status kick say version list-commands account\"\n"),
            std::string::npos)
      << script;
  EXPECT_NE(script.find("compgen -W \"add del passwd list\""), std::string::npos) << script;
  EXPECT_NE(script.find("if [[ $sub == @(kick) && ${words[cword - 1]} == \"$sub\" ]]"),
            std::string::npos)
      << script;
  EXPECT_EQ(script.rfind("#", 0), 0U);
  EXPECT_TRUE(script.ends_with("} &&\n\tcomplete -F _chatctl chatctl\n")) << script;
}

}  // namespace
}  // namespace chat

namespace chat {
namespace {

// Commands of two words (the accounts branch's `account add NICK`, a hash filled by
// chatctl's own code) are one registry entry each, like the others.
const std::vector<proto::ControlCommandSpec>& grouped_registry() {
  static const std::vector<proto::ControlCommandSpec> commands = {
      {.name = "who", .help = "list the connected users", .access = proto::CommandAccess::kRead},
      {.name = "account-add",
       .help = "register a nick",
       .args = {{.name = "nick", .help = "nick to register", .type_name = "NICK"},
                {.name = "hash", .cli = ArgCli::kNone}},
       .cli = "account add"},
      {.name = "account-list",
       .help = "list the registered nicks",
       .access = proto::CommandAccess::kRead,
       .cli = "account list"},
  };
  return commands;
}

TEST(ChatctlCli, TwoWordCommandsBecomeAGroupOfSubcommands) {
  const auto commands = ctl::cli_commands(grouped_registry());
  const auto parse = [&](std::vector<std::string> args) -> std::optional<std::string> {
    CLI::App app;
    app.require_subcommand(1);
    const ctl::CommandLine line(app, commands);
    std::reverse(args.begin(), args.end());
    app.parse(args);
    auto request = line.request();
    if (!request) {
      return std::nullopt;
    }
    if (request->name() == "account-add") {
      EXPECT_EQ(request->arg("hash"), nullptr);  // kNone: chatctl's code fills it
      request->set("hash", "$argon2id$x");
    }
    return proto::encode_control_request(*request);
  };
  EXPECT_EQ(parse({"account", "add", "pat"}),
            R"({"type":"account-add","nick":"pat","hash":"$argon2id$x"})");
  EXPECT_EQ(parse({"account", "list"}), R"({"type":"account-list"})");
  EXPECT_EQ(parse({"who"}), R"({"type":"who"})");
  EXPECT_THROW(parse({"account"}), CLI::ParseError);
  EXPECT_THROW(parse({"account", "add"}), CLI::ParseError);
  EXPECT_THROW(parse({"account-add", "pat"}), CLI::ParseError);

  const std::string script = ctl::bash_completion(commands);
  EXPECT_NE(script.find("\tlocal commands=\"who account\"\n"), std::string::npos) << script;
  EXPECT_NE(script.find("\t\taccount)\n\t\t\tCOMPREPLY=($(compgen -W \"add list\" -- \"$cur\"))"),
            std::string::npos)
      << script;
  // The registry's own script has the account group.
  EXPECT_NE(ctl::bash_completion().find("case $sub in"), std::string::npos);
}

}  // namespace
}  // namespace chat
