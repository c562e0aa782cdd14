// Answers status/who/kick/say from the server's and the hub's state.
#include "daemon/control_backend.hpp"

#include <algorithm>
#include <map>

#include <spdlog/spdlog.h>

#include "daemon/logging.hpp"

#include "version.hpp"

namespace chat::daemon {

StatusInfo ServerControl::status() {
  const Totals& t = server_.totals();
  StatusInfo s{};
  s.version = kVersion;
  s.uptime_s = static_cast<std::uint64_t>(server_.uptime().count());
  // One meaning per word (docs/LOGGING.md): clients are connections, as in
  // STATUS= and --max-clients; users are the clients that joined with a nick.
  s.clients = server_.client_count();
  s.users = server_.hub().joined_count();
  s.rooms = server_.hub().room_count();
  s.event_loop = event_loop_;
  const Engine& engine = server_.hub().engine();
  s.node = engine.node_name();
  if (!s.node.empty()) {
    s.cluster = engine.available() ? "ok" : "degraded";
    std::map<std::string, std::uint64_t> nodes;
    for (const auto& u : engine.remote_users()) {
      ++nodes[u.node];
    }
    s.nodes.assign(nodes.begin(), nodes.end());
  }
  s.max_clients = server_.effective_max_clients();
  s.messages_in = t.messages_in;
  s.messages_out = t.messages_out;
  s.bytes_in = t.bytes_in;
  s.bytes_out = t.bytes_out;
  s.memory_bytes = server_.accounted_bytes();
  s.memory_budget = server_.limits().memory_budget;
  const Counters& c = server_.counters();
  s.protocol_errors = server_.hub().counters().protocol_errors;
  s.slow_consumers = c.slow_consumers;
  s.refusals = c.refusals;
  s.budget_drops = c.budget_drops;
  s.stalls = c.stalls;
  s.floods = c.floods;
  s.tls_clients = server_.tls_client_count();
  s.plain_clients = s.clients - std::min(s.clients, s.tls_clients);
  if (const TlsContext* tls = server_.tls_context()) {
    s.tls_cert_expires = tls->not_after_text;
  }
  s.auth_failures = server_.hub().counters().auth_failures;
  s.auth_throttled = server_.hub().counters().auth_throttled;
  s.accounts = server_.accounts().size();
  return s;
}

std::vector<UserInfo> ServerControl::who() {
  std::vector<UserInfo> users;
  for (const auto& m : server_.hub().members()) {
    if (!m.joined) {
      continue;
    }
    UserInfo u{};
    u.nick = m.nick;
    u.peer = m.peer;
    u.room = m.room;
    u.tls = m.transport == Transport::kTls;
    u.since_unix =
        std::chrono::duration_cast<std::chrono::seconds>(m.since.time_since_epoch()).count();
    if (const Session* s = server_.session(m.id)) {
      u.messages_in = s->messages_in;
      u.messages_out = s->messages_out;
      u.bytes_in = s->bytes_in;
      u.bytes_out = s->bytes_out;
      u.sendq_bytes = s->queued_bytes();
    }
    u.node = server_.hub().engine().node_name();
    users.push_back(std::move(u));
  }
  // Users of other nodes: what this node knows of them (no traffic counters).
  for (auto& r : server_.hub().engine().remote_users()) {
    UserInfo u{};
    u.nick = std::move(r.nick);
    u.room = std::move(r.room);
    u.node = std::move(r.node);
    users.push_back(std::move(u));
  }
  std::sort(users.begin(), users.end(),
            [](const UserInfo& a, const UserInfo& b) { return a.nick < b.nick; });
  return users;
}

bool ServerControl::kick(std::string_view nick, std::string_view reason) {
  return server_.hub().kick(nick, reason) == Hub::KickResult::kKicked ||
         server_.hub().engine().kick_elsewhere(nick, reason);
}

std::optional<std::size_t> ServerControl::say(std::string_view message) {
  auto here = server_.hub().say(message);
  if (!here) {
    return here;
  }
  return *here + server_.hub().engine().say_elsewhere(message);
}

namespace {

namespace result = proto::control_result;

// The file was not changed; the log has the details (they name the path).
AccountOutcome io_failure(const std::string& error) {
  spdlog::error("event=accounts-write-failed detail={}", log_value(error));
  return {result::kInternalError, "cannot write the account file: " + error};
}

}  // namespace

AccountOutcome ServerControl::account_add(std::string_view nick, const std::string& hash) {
  std::string why;
  if (!is_acceptable_hash(hash, &why)) {
    return {result::kBadRequest, "refused hash: " + why};
  }
  const auto r = server_.accounts().add(nick, hash);
  if (r.io_error) {
    return io_failure(*r.io_error);
  }
  switch (r.change) {
    case AccountStore::Change::kExists:
      return {result::kExists, "the nick (or a look-alike of it) is already registered"};
    case AccountStore::Change::kFull:
      return {result::kInternalError,
              "the account file is full (" + std::to_string(kMaxAccounts) + " accounts)"};
    default:
      return {result::kOk, "account " + std::string(nick) + " added"};
  }
}

AccountOutcome ServerControl::account_passwd(std::string_view nick, const std::string& hash) {
  std::string why;
  if (!is_acceptable_hash(hash, &why)) {
    return {result::kBadRequest, "refused hash: " + why};
  }
  const auto r = server_.accounts().set_hash(nick, hash);
  if (r.io_error) {
    return io_failure(*r.io_error);
  }
  if (r.change == AccountStore::Change::kNoSuchAccount) {
    return {result::kNoSuchAccount, "no account is registered for that nick"};
  }
  return {result::kOk, "password of " + std::string(nick) + " changed"};
}

AccountOutcome ServerControl::account_del(std::string_view nick) {
  const auto r = server_.accounts().remove(nick);
  if (r.io_error) {
    return io_failure(*r.io_error);
  }
  if (r.change == AccountStore::Change::kNoSuchAccount) {
    return {result::kNoSuchAccount, "no account is registered for that nick"};
  }
  // A connected user of that nick stays connected (PROTOCOL-DECISIONS 53).
  return {result::kOk, "account " + std::string(nick) + " deleted"};
}

std::vector<std::string> ServerControl::account_list() {
  return server_.accounts().nicks();
}

}  // namespace chat::daemon
