// Tables and lines for people from control replies (RapidJSON DOM, fmt for layout).
#include "ctl/render.hpp"

#include <fmt/format.h>
#include <rapidjson/document.h>

#include <array>
#include <ctime>
#include <utility>
#include <vector>

#include "common/text_safety.hpp"
#include "ctl/exit_codes.hpp"
#include "protocol/control.hpp"

namespace chat::ctl {
namespace {

using rapidjson::Value;

// Text from the daemon (nicks, peers, rooms, messages: all chosen by clients) shown
// inert, the way chat_client shows it: no control, escape sequence, bidi override or
// broken UTF-8 reaches the operator's terminal.
std::string inert(std::string_view s) {
  return text::sanitize(s);
}

std::string str(const Value& obj, const char* key) {
  const auto it = obj.FindMember(key);
  if (it == obj.MemberEnd()) {
    return "-";
  }
  if (it->value.IsString()) {
    return inert(std::string_view(it->value.GetString(), it->value.GetStringLength()));
  }
  if (it->value.IsUint64()) {
    return std::to_string(it->value.GetUint64());
  }
  if (it->value.IsInt64()) {
    return std::to_string(it->value.GetInt64());
  }
  if (it->value.IsBool()) {
    return it->value.GetBool() ? "true" : "false";
  }
  return "-";
}

std::string utc_time(const Value& obj, const char* key) {
  const auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || !it->value.IsInt64()) {
    return "-";
  }
  const std::time_t t = static_cast<std::time_t>(it->value.GetInt64());
  std::tm tm{};
  if (::gmtime_r(&t, &tm) == nullptr) {
    return "-";
  }
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string pad(const std::string& s, std::size_t width, bool right) {
  const std::size_t w = display_width(s);
  const std::string fill(width > w ? width - w : 0, ' ');
  return right ? fill + s : s + fill;
}

// Columns separated by two spaces; `numeric` columns right-aligned; no
// trailing blanks.
std::string table(const std::vector<std::string>& header, const std::vector<bool>& numeric,
                  const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths(header.size());
  for (std::size_t i = 0; i < header.size(); ++i) {
    widths[i] = display_width(header[i]);
    for (const auto& row : rows) {
      widths[i] = std::max(widths[i], display_width(row[i]));
    }
  }
  std::string out;
  auto emit = [&](const std::vector<std::string>& cells) {
    std::string line;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      if (i > 0) {
        line += "  ";
      }
      const bool last = i + 1 == cells.size();
      line += (last && !numeric[i]) ? cells[i] : pad(cells[i], widths[i], numeric[i]);
    }
    out += line + "\n";
  };
  emit(header);
  for (const auto& row : rows) {
    emit(row);
  }
  return out;
}

std::string render_who(const Value& doc) {
  std::vector<std::vector<std::string>> rows;
  // A TLS column when the server says (chatd with TLS support always does).
  bool tls_column = false;
  bool node_column = false;  // --engine redis: the node holding each user
  const auto users = doc.FindMember("users");
  if (users != doc.MemberEnd() && users->value.IsArray()) {
    for (const auto& u : users->value.GetArray()) {
      if (u.IsObject() && u.HasMember("tls")) {
        tls_column = true;
      }
      if (u.IsObject() && u.HasMember("node")) {
        node_column = true;
      }
    }
    for (const auto& u : users->value.GetArray()) {
      if (!u.IsObject()) {
        continue;
      }
      rows.push_back({str(u, "nick"), str(u, "peer"), str(u, "room"), utc_time(u, "since"),
                      str(u, "messages_in"), str(u, "messages_out"), str(u, "bytes_in"),
                      str(u, "bytes_out"), str(u, "sendq_bytes")});
      if (tls_column) {
        const auto t = u.FindMember("tls");
        const bool on = t != u.MemberEnd() && t->value.IsBool() && t->value.GetBool();
        rows.back().insert(rows.back().begin() + 2, on ? "yes" : "no");
      }
      if (node_column) {
        rows.back().insert(rows.back().begin() + 1, str(u, "node"));
      }
    }
  }
  if (rows.empty()) {
    return "no users connected\n";
  }
  std::vector<std::string> header{"NICK",     "PEER",     "ROOM",      "SINCE", "MSGS-IN",
                                  "MSGS-OUT", "BYTES-IN", "BYTES-OUT", "SENDQ"};
  std::vector<bool> numeric{false, false, false, false, true, true, true, true, true};
  if (tls_column) {
    header.insert(header.begin() + 2, "TLS");
    numeric.insert(numeric.begin() + 2, false);
  }
  if (node_column) {
    header.insert(header.begin() + 1, "NODE");
    numeric.insert(numeric.begin() + 1, false);
  }
  std::string out = table(header, numeric, rows);
  const auto truncated = doc.FindMember("truncated");
  if (truncated != doc.MemberEnd() && truncated->value.IsBool() && truncated->value.GetBool()) {
    out += fmt::format("({} of {} users shown; use --json for the reply as sent)\n", rows.size(),
                       str(doc, "total"));
  }
  return out;
}

std::string format_duration(std::uint64_t s) {
  if (s >= 86400) {
    return fmt::format("{}d {}h {}m {}s", s / 86400, s % 86400 / 3600, s % 3600 / 60, s % 60);
  }
  if (s >= 3600) {
    return fmt::format("{}h {}m {}s", s / 3600, s % 3600 / 60, s % 60);
  }
  if (s >= 60) {
    return fmt::format("{}m {}s", s / 60, s % 60);
  }
  return fmt::format("{}s", s);
}

std::string render_status(const Value& doc) {
  std::string uptime = str(doc, "uptime_s");
  const auto it = doc.FindMember("uptime_s");
  if (it != doc.MemberEnd() && it->value.IsUint64()) {
    uptime = format_duration(it->value.GetUint64());
  }
  std::string clients = str(doc, "clients") + " of " + str(doc, "max_clients");
  if (doc.HasMember("tls_clients") && doc.HasMember("plain_clients")) {
    clients += " (" + str(doc, "tls_clients") + " TLS, " + str(doc, "plain_clients") + " plain)";
  }
  std::vector<std::pair<std::string, std::string>> lines = {
      {"version", str(doc, "version")},
      {"uptime", uptime},
      {"clients", clients},
      {"rooms", str(doc, "rooms")},
      {"event loop", str(doc, "event_loop")},
      {"messages in", str(doc, "messages_in")},
      {"messages out", str(doc, "messages_out")},
      {"bytes in", str(doc, "bytes_in")},
      {"bytes out", str(doc, "bytes_out")},
  };
  if (doc.HasMember("tls_cert_expires")) {
    lines.emplace_back("TLS cert", "expires " + str(doc, "tls_cert_expires"));
  }
  if (doc.HasMember("cluster")) {  // --engine redis: "ok" or "degraded"
    lines.emplace_back("cluster", str(doc, "cluster") + " (node " + str(doc, "node") + ")");
    std::string others;
    const auto nodes = doc.FindMember("nodes");
    if (nodes != doc.MemberEnd() && nodes->value.IsArray()) {
      for (const auto& n : nodes->value.GetArray()) {
        if (n.IsObject()) {
          others +=
              (others.empty() ? "" : ", ") + str(n, "name") + " (" + str(n, "users") + " users)";
        }
      }
    }
    lines.emplace_back("other nodes", others.empty() ? "none" : others);
  }
  if (doc.HasMember("users")) {  // clients that joined with a nick (absent from older chatd)
    lines.insert(lines.begin() + 3, {"users", str(doc, "users")});
  }
  std::vector<std::pair<std::string, std::string>> more;
  if (doc.HasMember("accounts")) {
    more.emplace_back("accounts", str(doc, "accounts"));
  }
  const auto counters = doc.FindMember("counters");
  if (counters != doc.MemberEnd() && counters->value.IsObject() &&
      counters->value.HasMember("auth_failures")) {
    more.emplace_back("auth failed", str(counters->value, "auth_failures") + " (" +
                                         str(counters->value, "auth_throttled") +
                                         " without hashing)");
  }
  std::string out;
  for (const auto& [key, value] : lines) {
    out += fmt::format("{:<13} {}\n", key + ":", value);
  }
  for (const auto& [key, value] : more) {
    out += fmt::format("{:<13} {}\n", key + ":", value);
  }
  return out;
}

std::string render_account_list(const Value& doc) {
  std::string out;
  std::size_t shown = 0;
  const auto it = doc.FindMember("accounts");
  if (it != doc.MemberEnd() && it->value.IsArray()) {
    for (const auto& a : it->value.GetArray()) {
      if (a.IsObject()) {
        out += str(a, "nick") + "\n";
        ++shown;
      }
    }
  }
  if (shown == 0) {
    return "no accounts\n";
  }
  const auto truncated = doc.FindMember("truncated");
  if (truncated != doc.MemberEnd() && truncated->value.IsBool() && truncated->value.GetBool()) {
    out += fmt::format("({} of {} accounts shown; use --json for the reply as sent)\n", shown,
                       str(doc, "total"));
  }
  return out;
}

std::string render_version(const Value& doc) {
  return fmt::format("chatd {}, protocol {}\n", str(doc, "version"), str(doc, "protocol"));
}

std::string render_list_commands(const Value& doc) {
  std::string out;
  const auto it = doc.FindMember("commands");
  if (it != doc.MemberEnd() && it->value.IsArray()) {
    for (const auto& c : it->value.GetArray()) {
      if (c.IsString()) {
        out += inert(std::string_view(c.GetString(), c.GetStringLength())) + "\n";
      }
    }
  }
  return out;
}

std::string render_say(const Value& doc) {
  const std::string n = str(doc, "recipients");
  return fmt::format("said to {} client{}\n", n, n == "1" ? "" : "s");
}

// The reply's message, or "ok": for commands whose reply carries no data.
std::string render_message(const Value& doc) {
  const std::string message = str(doc, "message");
  return message.empty() || message == "-" ? "ok\n" : message + "\n";
}

using Renderer = std::string (*)(const Value& doc);

// chatctl's side of each command in the registry (protocol/control.cpp), by name.
constexpr std::array<std::pair<std::string_view, Renderer>, 10> kRenderers{{
    {"status", render_status},
    {"who", render_who},
    {"kick", render_message},
    {"say", render_say},
    {"version", render_version},
    {"list-commands", render_list_commands},
    {"account-add", render_message},
    {"account-del", render_message},
    {"account-passwd", render_message},
    {"account-list", render_account_list},
}};

Renderer renderer_for(std::string_view command) {
  for (const auto& [name, renderer] : kRenderers) {
    if (name == command) {
      return renderer;
    }
  }
  return nullptr;
}

std::string render_ok(std::string_view command, const Value& doc) {
  const Renderer renderer = renderer_for(command);
  return renderer != nullptr ? renderer(doc) : render_message(doc);
}

}  // namespace

bool has_renderer(std::string_view command) {
  return renderer_for(command) != nullptr;
}

int exit_code_for_result(std::string_view result) {
  if (result == proto::control_result::kOk) {
    return kExitOk;
  }
  if (result == proto::control_result::kPermissionDenied) {
    return kExitNoPerm;
  }
  return kExitError;
}

Rendered render_reply(std::string_view command, std::string_view payload, bool json) {
  rapidjson::Document doc;
  doc.Parse(payload.data(), payload.size());
  const bool valid =
      !doc.HasParseError() && doc.IsObject() && doc.HasMember("result") && doc["result"].IsString();
  if (!valid) {
    return Rendered{kExitProtocol, json ? std::string(payload) + "\n" : "",
                    "chatctl: the daemon's reply is not a control reply: " +
                        inert(payload.substr(0, 200)) + "\n"};
  }
  const std::string result(doc["result"].GetString(), doc["result"].GetStringLength());
  const int code = exit_code_for_result(result);
  Rendered r;
  r.exit_code = code;
  if (json) {
    r.out = std::string(payload) + "\n";
    return r;
  }
  if (code == kExitOk) {
    r.out = render_ok(command, doc);
    return r;
  }
  std::string message = str(doc, "message");
  if (message == "-" || message.empty()) {
    message = "(no message)";
  }
  r.err = fmt::format("chatctl: {}: {}: {}\n", command, inert(result), message);
  return r;
}

}  // namespace chat::ctl
