// Command parsing for the input line, the help text and Tab completion.
#include "client/commands.hpp"

#include <algorithm>

#include "client/line_editor.hpp"
#include "client/render.hpp"
#include "protocol/rules.hpp"

namespace chat::client {
namespace {

// Splits off the first space-separated word; the rest keeps its inner spaces.
std::pair<std::string_view, std::string_view> split_word(std::string_view s) {
  const std::size_t start = s.find_first_not_of(' ');
  if (start == std::string_view::npos) {
    return {{}, {}};
  }
  s.remove_prefix(start);
  const std::size_t end = s.find(' ');
  if (end == std::string_view::npos) {
    return {s, {}};
  }
  std::string_view rest = s.substr(end);
  rest.remove_prefix(std::min(rest.find_first_not_of(' '), rest.size()));
  return {s.substr(0, end), rest};
}

LocalAction usage(std::string_view text) {
  return LocalAction{{"*** usage: " + std::string(text)}};
}

}  // namespace

std::vector<std::string> help_lines() {
  return {
      "*** commands:",
      "***   /msg NICK text      private message (also /message)",
      "***   /me action          describe an action: [pat waves]",
      "***   /who                who is in your room",
      "***   /join ROOM          go to ROOM (lobby is where everyone starts)",
      "***   /rooms              list the rooms",
      "***   /help               this help",
      "***   /q                  quit",
      "***   //text              send a message that starts with /",
      "*** keys: Tab completes nicks and commands, Up/Down history, Ctrl-D quits",
  };
}

const std::vector<std::string>& command_names() {
  static const std::vector<std::string> names{"/help", "/join", "/me",    "/message",
                                              "/msg",  "/q",    "/rooms", "/who"};
  return names;
}

Action interpret(std::string_view line) {
  if (line.empty()) {
    return std::monostate{};
  }
  if (line.front() != '/') {
    return SendAction{proto::ChatRequest{std::string(line)}};
  }
  if (line.starts_with("//")) {
    return SendAction{proto::ChatRequest{std::string(line.substr(1))}};
  }
  const std::size_t space = line.find(' ');
  const std::string_view name = line.substr(0, space);
  const std::string_view args =
      space == std::string_view::npos ? std::string_view{} : line.substr(space + 1);
  if (name == "/q") {
    return QuitAction{};
  }
  if (name == "/msg" || name == "/message") {
    const auto [to, text] = split_word(args);
    if (to.empty() || text.empty()) {
      return usage(std::string(name) + " NICK text");
    }
    return SendAction{proto::DmRequest{std::string(to), std::string(text)}};
  }
  if (name == "/me") {
    if (args.find_first_not_of(' ') == std::string_view::npos) {
      return usage("/me action");
    }
    return SendAction{proto::EmoteRequest{std::string(args)}};
  }
  if (name == "/who") {
    return SendAction{proto::WhoRequest{}};
  }
  if (name == "/rooms") {
    return SendAction{proto::RoomsRequest{}};
  }
  if (name == "/join") {
    const auto [room, rest] = split_word(args);
    if (room.empty() || !rest.empty()) {
      return usage("/join ROOM");
    }
    return SendAction{proto::EnterRequest{std::string(room)}};
  }
  LocalAction help;
  if (name != "/help") {
    help.lines.push_back("*** unknown command " + sanitize(name) + ", nothing sent");
  }
  for (auto& l : help_lines()) {
    help.lines.push_back(std::move(l));
  }
  return help;
}

Completion complete(const std::u32string& text, std::size_t cursor,
                    const std::vector<std::string>& nicks) {
  Completion result{text, std::min(cursor, text.size()), {}};
  std::size_t start = result.cursor;
  while (start > 0 && text[start - 1] != U' ') {
    --start;
  }
  const std::string prefix = to_utf8(text.substr(start, result.cursor - start));
  if (prefix.empty()) {
    return result;
  }
  const bool command = start == 0 && prefix.front() == '/';
  const std::vector<std::string>& pool = command ? command_names() : nicks;
  const std::string key = proto::ascii_fold(prefix);
  std::vector<std::string> matches;
  for (const auto& candidate : pool) {
    if (proto::ascii_fold(candidate).starts_with(key) &&
        std::find(matches.begin(), matches.end(), candidate) == matches.end()) {
      matches.push_back(candidate);
    }
  }
  if (matches.empty()) {
    return result;
  }
  std::sort(matches.begin(), matches.end());
  std::u32string replacement;
  if (matches.size() == 1) {
    replacement = from_utf8(matches.front()) + U" ";
  } else {
    // Longest common prefix, ASCII letters case folded (as the prefix match).
    std::u32string common = from_utf8(matches.front());
    for (const auto& m : matches) {
      const std::u32string cm = from_utf8(m);
      std::size_t n = 0;
      while (n < common.size() && n < cm.size() &&
             proto::ascii_fold(to_utf8(common.substr(n, 1))) ==
                 proto::ascii_fold(to_utf8(cm.substr(n, 1)))) {
        ++n;
      }
      common.resize(n);
    }
    if (common.size() <= result.cursor - start) {
      for (const auto& m : matches) {
        result.candidates.push_back(sanitize(m));
      }
      return result;
    }
    replacement = common;
  }
  result.text = text.substr(0, start) + replacement + text.substr(result.cursor);
  result.cursor = start + replacement.size();
  return result;
}

}  // namespace chat::client
