// chatd's side of each control command: one handler per registry entry (protocol/control.cpp).
#include <spdlog/spdlog.h>

#include <array>
#include <utility>

#include "daemon/control.hpp"
#include "daemon/log_fields.hpp"
#include "protocol/frame.hpp"
#include "protocol/rules.hpp"
#include "version.hpp"

namespace chat::daemon {
namespace {

namespace result = proto::control_result;
using proto::ControlReply;
using proto::ControlRequest;

std::string status(ControlBackend& backend, const ControlRequest& request, const ControlCaller& c) {
  const StatusInfo s = backend.status();
  spdlog::info("event=control-command command=status uid={} pid={} result=ok", c.uid, c.pid);
  ControlReply reply(request.name(), result::kOk, "");
  if (!s.tls_cert_expires.empty()) {
    reply.add("tls_cert_expires", s.tls_cert_expires);
  }
  reply.add("accounts", s.accounts);
  if (!s.cluster.empty()) {
    reply.add("node", s.node).add("cluster", s.cluster).begin_array("nodes");
    for (const auto& [name, users] : s.nodes) {
      reply.begin_object().add("name", name).add("users", users).end_object();
    }
    reply.end_array();
  }
  return reply.add("tls_clients", s.tls_clients)
      .add("plain_clients", s.plain_clients)
      .add("version", s.version)
      .add("uptime_s", s.uptime_s)
      .add("clients", s.clients)
      .add("users", s.users)
      .add("rooms", s.rooms)
      .add("event_loop", s.event_loop)
      .add("max_clients", s.max_clients)
      .add("messages_in", s.messages_in)
      .add("messages_out", s.messages_out)
      .add("bytes_in", s.bytes_in)
      .add("bytes_out", s.bytes_out)
      .add("memory_bytes", s.memory_bytes)
      .add("memory_budget", s.memory_budget)
      .begin_object("counters")
      .add("protocol_errors", s.protocol_errors)
      .add("slow_consumers", s.slow_consumers)
      .add("refusals", s.refusals)
      .add("budget_drops", s.budget_drops)
      .add("stalls", s.stalls)
      .add("floods", s.floods)
      .add("auth_failures", s.auth_failures)
      .add("auth_throttled", s.auth_throttled)
      .end_object()
      .finish();
}

// The who reply with the first `count` users; `truncated` notes that the list
// was cut to fit one frame.
std::string who_reply(const std::vector<UserInfo>& users, std::size_t count) {
  const bool truncated = count < users.size();
  ControlReply reply("who", result::kOk, truncated ? "user list truncated to fit one frame" : "");
  reply.begin_array("users");
  for (std::size_t i = 0; i < count; ++i) {
    const auto& u = users[i];
    reply.begin_object()
        .add("nick", u.nick)
        .add("peer", u.peer)
        .add("room", u.room)
        .add("since", u.since_unix)
        .add("messages_in", u.messages_in)
        .add("messages_out", u.messages_out)
        .add("bytes_in", u.bytes_in)
        .add("bytes_out", u.bytes_out)
        .add("sendq_bytes", u.sendq_bytes)
        .add("tls", u.tls);
    if (!u.node.empty()) {
      reply.add("node", u.node);
    }
    reply.end_object();
  }
  reply.end_array();
  reply.add("total", static_cast<std::uint64_t>(users.size()));
  if (truncated) {
    reply.add("truncated", true);
  }
  return reply.finish();
}

std::string who(ControlBackend& backend, const ControlRequest& /*request*/,
                const ControlCaller& c) {
  const std::vector<UserInfo> users = backend.who();
  std::string reply = who_reply(users, users.size());
  // One reply is one frame: shrink the list until it fits.
  std::size_t count = users.size();
  while (reply.size() > proto::kMaxPayload && count > 0) {
    count = count * (proto::kMaxPayload - 512) / reply.size();
    reply = who_reply(users, count);
  }
  spdlog::info("event=control-command command=who uid={} pid={} result=ok users={}", c.uid, c.pid,
               users.size());
  return reply;
}

std::string kick(ControlBackend& backend, const ControlRequest& request, const ControlCaller& c) {
  const std::string* given = request.arg("reason");
  const std::string reason = given != nullptr ? *given : "";
  const std::string* nick_arg = request.arg("nick");
  const std::string nick = nick_arg != nullptr ? *nick_arg : "";
  const bool kicked = backend.kick(nick, reason);
  const auto code = kicked ? result::kOk : result::kNoSuchNick;
  spdlog::info("event=control-command command=kick uid={} pid={} result={} nick={} reason={}",
               c.uid, c.pid, code, log_value(nick), log_value(reason));
  // The nick is the caller's text: quoted back bounded, like every log field.
  const std::string shown = proto::truncate_utf8(nick, 64, "...");
  return proto::control_reply(request.name(), code,
                              kicked ? "kicked " + shown : "no user is called " + shown);
}

std::string say(ControlBackend& backend, const ControlRequest& request, const ControlCaller& c) {
  const std::string* message_arg = request.arg("message");
  const std::string message = message_arg != nullptr ? *message_arg : "";
  const auto recipients = backend.say(message);
  if (!recipients) {
    spdlog::info("event=control-command command=say uid={} pid={} result=bad-message", c.uid,
                 c.pid);
    return proto::control_reply(request.name(), result::kBadMessage,
                                "message is too long to send in one packet");
  }
  spdlog::info("event=control-command command=say uid={} pid={} result=ok recipients={} message={}",
               c.uid, c.pid, *recipients, log_value(message));
  return ControlReply(request.name(), result::kOk, "")
      .add("recipients", static_cast<std::uint64_t>(*recipients))
      .finish();
}

std::string version(ControlBackend& /*backend*/, const ControlRequest& request,
                    const ControlCaller& c) {
  spdlog::info("event=control-command command=version uid={} pid={} result=ok", c.uid, c.pid);
  return ControlReply(request.name(), result::kOk, "")
      .add("version", chat::kVersion)
      .add("protocol", proto::kProtocolVersion)
      .finish();
}

std::string list_commands(ControlBackend& /*backend*/, const ControlRequest& request,
                          const ControlCaller& c) {
  std::vector<std::string> names;
  for (const auto& command : proto::control_commands()) {
    names.emplace_back(command.name);
  }
  spdlog::info("event=control-command command=list-commands uid={} pid={} result=ok", c.uid, c.pid);
  return ControlReply(request.name(), result::kOk, "").add_strings("commands", names).finish();
}

// Keyed by the registry name; ControlServer refuses to start if one is missing.
}  // namespace

AccountOutcome ControlBackend::account_add(std::string_view /*nick*/, const std::string& /*hash*/) {
  return {result::kInternalError, "this chatd does not keep accounts"};
}
AccountOutcome ControlBackend::account_passwd(std::string_view /*nick*/,
                                              const std::string& /*hash*/) {
  return {result::kInternalError, "this chatd does not keep accounts"};
}
AccountOutcome ControlBackend::account_del(std::string_view /*nick*/) {
  return {result::kInternalError, "this chatd does not keep accounts"};
}
std::vector<std::string> ControlBackend::account_list() {
  return {};
}

namespace {

// The nick of an account request, checked: not quoted back (it may hold anything).
std::optional<std::string> account_nick(const ControlRequest& request) {
  const std::string* nick = request.arg("nick");
  if (nick == nullptr || !proto::is_valid_nick(*nick)) {
    return std::nullopt;
  }
  return *nick;
}

std::string bad_nick(const ControlRequest& request, const ControlCaller& c) {
  spdlog::info("event=control-command command={} uid={} pid={} result={} reason=bad-nick",
               request.name(), c.uid, c.pid, result::kBadRequest);
  return proto::control_reply(request.name(), result::kBadRequest,
                              "not a valid nick (1-32 characters, no spaces, controls or :/*@,#!, "
                              "no look-alike tricks)");
}

// account-add, account-passwd, account-del: chatctl hashed the password; the
// hash is never logged, only who did what to which nick.
std::string account_change(ControlBackend& backend, const ControlRequest& request,
                           const ControlCaller& c) {
  const auto nick = account_nick(request);
  if (!nick) {
    return bad_nick(request, c);
  }
  AccountOutcome outcome;
  if (request.name() == "account-del") {
    outcome = backend.account_del(*nick);
  } else {
    const std::string* hash = request.arg("hash");
    if (hash == nullptr || hash->empty() || hash->size() > proto::kMaxAccountHash) {
      return proto::control_reply(request.name(), result::kBadRequest,
                                  std::string(request.name()) + " needs a string \"hash\" of 1-" +
                                      std::to_string(proto::kMaxAccountHash) +
                                      " bytes (an Argon2id string)");
    }
    outcome = request.name() == "account-add" ? backend.account_add(*nick, *hash)
                                              : backend.account_passwd(*nick, *hash);
  }
  spdlog::info("event=control-command command={} uid={} pid={} result={} nick={}", request.name(),
               c.uid, c.pid, outcome.result, log_value(*nick));
  return proto::control_reply(request.name(), outcome.result, outcome.message);
}

std::string account_list_reply(const std::vector<std::string>& nicks, std::size_t count) {
  const bool truncated = count < nicks.size();
  ControlReply reply("account-list", result::kOk,
                     truncated ? "account list truncated to fit one frame" : "");
  reply.begin_array("accounts");
  for (std::size_t i = 0; i < count; ++i) {
    reply.begin_object().add("nick", nicks[i]).end_object();
  }
  reply.end_array();
  reply.add("total", static_cast<std::uint64_t>(nicks.size()));
  if (truncated) {
    reply.add("truncated", true);
  }
  return reply.finish();
}

std::string account_list(ControlBackend& backend, const ControlRequest& /*request*/,
                         const ControlCaller& c) {
  const std::vector<std::string> nicks = backend.account_list();
  std::string reply = account_list_reply(nicks, nicks.size());
  std::size_t count = nicks.size();
  while (reply.size() > proto::kMaxPayload && count > 0) {
    count = count * (proto::kMaxPayload - 512) / reply.size();
    reply = account_list_reply(nicks, count);
  }
  spdlog::info("event=control-command command=account-list uid={} pid={} result=ok accounts={}",
               c.uid, c.pid, nicks.size());
  return reply;
}

constexpr std::array<std::pair<std::string_view, ControlHandler>, 10> kHandlers{{
    {"status", status},
    {"who", who},
    {"kick", kick},
    {"say", say},
    {"version", version},
    {"list-commands", list_commands},
    {"account-add", account_change},
    {"account-del", account_change},
    {"account-passwd", account_change},
    {"account-list", account_list},
}};

}  // namespace

ControlHandler control_handler(std::string_view name) {
  for (const auto& [command, handler] : kHandlers) {
    if (command == name) {
      return handler;
    }
  }
  return nullptr;
}

bool is_read_only(const proto::ControlCommandSpec& command) {
  return command.access == proto::CommandAccess::kRead;
}

}  // namespace chat::daemon
