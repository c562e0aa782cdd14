// Hub: applies client packets to the chat state and decides who receives what.
#include "daemon/hub.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cassert>

#include "daemon/logging.hpp"
#include "daemon/memory_engine.hpp"
#include "protocol/codec.hpp"
#include "protocol/frame.hpp"
#include "protocol/rules.hpp"
#include "version.hpp"

namespace chat::daemon {

using proto::ErrorCode;

std::optional<Frame> make_frame(const proto::ServerPacket& packet) {
  return proto::encode_frame(packet);
}

Frame error_frame(ErrorCode code, std::string_view message) {
  // encode_error bounds the message, so the payload always fits.
  auto frame = Frame::make(proto::encode_error(code, message));
  assert(frame);
  return std::move(*frame);
}

std::optional<Frame> history_frame(const Frame& live) {
  const auto payload = proto::as_history_payload(live.payload());
  return payload ? Frame::make(*payload) : std::nullopt;
}

Frame timed_frame(const Frame& frame, std::int64_t ts) {
  const auto payload = proto::with_ts_payload(frame.payload(), ts);
  auto timed = payload ? Frame::make(*payload) : std::nullopt;
  if (!timed) {
    return frame;
  }
  return std::move(*timed);
}

namespace {

// Cuts a list reply from the end until it fits in one frame, and marks it so.
template <typename Reply, typename List>
std::optional<Frame> trimmed_frame(Reply reply, List Reply::*list) {
  auto frame = make_frame(reply);
  while (!frame && !(reply.*list).empty()) {
    auto& items = reply.*list;
    items.resize(items.size() - std::max<std::size_t>(1, items.size() / 8));
    reply.truncated = true;
    frame = make_frame(reply);
  }
  return frame;
}

// When the hub took a line (the `ts` of the time cap): Unix ms.
std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

constexpr std::string_view kTooLong = "message too long to relay with your nick in one packet";

#ifndef NDEBUG
// Marks the hub as inside the Outbox for the guard's lifetime.
class BroadcastGuard {
 public:
  explicit BroadcastGuard(bool& flag) : flag_(flag) { flag_ = true; }
  ~BroadcastGuard() { flag_ = false; }
  BroadcastGuard(const BroadcastGuard&) = delete;
  BroadcastGuard& operator=(const BroadcastGuard&) = delete;

 private:
  bool& flag_;
};
#define CHAT_HUB_ENTRY() assert(!broadcasting_ && "Outbox called back into the hub")
#else
#define CHAT_HUB_ENTRY() ((void)0)
#endif

}  // namespace

Hub::Hub(Outbox& outbox, HubConfig config, Engine* engine)
    : outbox_(outbox),
      config_(config),
      own_engine_(engine == nullptr ? std::make_unique<MemoryEngine>() : nullptr),
      engine_(engine == nullptr ? own_engine_.get() : engine) {
  engine_->set_history_limits({config_.history_size, config_.history_bytes});
  rooms_[std::string(kLobby)];  // always exists, even when empty
  room_names_.emplace(proto::room_key(kLobby), kLobby);
}

Hub::~Hub() = default;

void Hub::set_config(HubConfig config) {
  config_ = config;
  engine_->set_history_limits({config_.history_size, config_.history_bytes});
}

std::map<std::string, Hub::Room>::iterator Hub::find_room(const std::string& room) {
  auto it = rooms_.find(room);
  if (it == rooms_.end()) {
    const auto named = room_names_.find(proto::room_key(room));
    if (named != room_names_.end()) {
      it = rooms_.find(named->second);
    }
  }
  return it;
}

void Hub::deliver(const std::string& room, const RoomEvent& event) {
  CHAT_HUB_ENTRY();
  const auto it = find_room(room);
  if (it == rooms_.end() || event.native == nullptr) {
    return;
  }
  if (event.moved != nullptr && event.fallback != nullptr) {
    fan_out_move(it->second.members, *event.native, *event.fallback, *event.moved);
    return;
  }
  fan_out(it->second.members, event.cap, *event.native, event.fallback, event.ts);
}

void Hub::deliver_direct(const std::string& to_key, const RoomEvent& event) {
  CHAT_HUB_ENTRY();
  const auto target = nicks_.find(to_key);
  if (target == nicks_.end() || event.native == nullptr || !members_.at(target->second).joined) {
    return;
  }
  fan_out({target->second}, event.cap, *event.native, event.fallback, event.ts);
}

void Hub::remote_left(const std::string& room, const std::string& nick) {
  CHAT_HUB_ENTRY();
  const auto it = find_room(room);
  if (it == rooms_.end() || it->second.members.empty()) {
    return;
  }
  const auto native = make_frame(proto::Leave{nick, it->first});
  const auto fallback = make_frame(proto::Leave{nick, std::nullopt});
  if (native && fallback) {
    fan_out(it->second.members, kCapRooms, *native, &*fallback);
  }
}

void Hub::drop_nick(const std::string& to_key) {
  CHAT_HUB_ENTRY();
  const auto it = nicks_.find(to_key);
  if (it == nicks_.end() || !members_.at(it->second).joined) {
    return;
  }
  const std::string nick = members_.at(it->second).nick;
  fail(it->second, ErrorCode::kNickTaken,
       "nick " + nick + " was taken on another server while this one was cut off from it",
       "nick-taken");
}

void Hub::connect(SessionId id, std::string peer, Transport transport) {
  CHAT_HUB_ENTRY();
  Member m;
  m.peer = std::move(peer);
  m.transport = transport;
  m.since = std::chrono::system_clock::now();
  members_.emplace(id, std::move(m));
}

void Hub::receive(SessionId id, std::string_view payload) {
  CHAT_HUB_ENTRY();
  const auto it = members_.find(id);
  if (it == members_.end()) {
    return;  // closed earlier in this wake-up; its remaining input is void
  }
  Member& m = it->second;
  auto decoded = proto::decode_client(payload);
  if (auto* err = std::get_if<proto::DecodeError>(&decoded)) {
    ++counters_.protocol_errors;
    if (err->fatal) {
      fail(id, err->code, err->message, proto::error_name(err->code));
    } else if (!m.joined) {
      fail(id, ErrorCode::kHelloRequired, "the first packet must be hello", "hello-required");
    } else {
      send_error(id, m, err->code, err->message);
    }
    return;
  }
  auto& packet = std::get<proto::ClientPacket>(decoded);
  if (auto* hello = std::get_if<proto::Hello>(&packet)) {
    if (m.joined) {
      fail(id, ErrorCode::kBadPacket, "hello was already sent on this connection", "bad-packet");
    } else {
      on_hello(id, m, std::move(*hello));
    }
    return;
  }
  if (!m.joined) {
    fail(id, ErrorCode::kHelloRequired, "the first packet must be hello", "hello-required");
    return;
  }
  on_packet(id, m, std::move(packet));
}

void Hub::reject_frame(SessionId id) {
  CHAT_HUB_ENTRY();
  if (members_.count(id) != 0) {
    ++counters_.protocol_errors;
    fail(id, ErrorCode::kBadPacket, "zero-length frame", "bad-packet");
  }
}

void Hub::disconnect(SessionId id, std::string_view reason) {
  CHAT_HUB_ENTRY();
  forget(id, reason);
}

void Hub::close_with_error(SessionId id, ErrorCode code, std::string_view message,
                           std::string_view reason) {
  CHAT_HUB_ENTRY();
  if (members_.count(id) != 0) {
    fail(id, code, message, reason);
  }
}

Hub::KickResult Hub::kick(std::string_view nick, std::string_view reason) {
  CHAT_HUB_ENTRY();
  const auto it = nicks_.find(proto::nick_key(nick));
  if (it == nicks_.end() || !members_.at(it->second).joined) {
    return KickResult::kNoSuchNick;
  }
  std::string text = "kicked by the operator";
  if (!reason.empty()) {
    text += ": ";
    text += reason;
  }
  fail(it->second, ErrorCode::kKicked, text, "kicked");
  return KickResult::kKicked;
}

std::optional<std::size_t> Hub::say(std::string_view message) {
  CHAT_HUB_ENTRY();
  const auto native = make_frame(proto::Info{std::string(message)});
  const auto fallback = make_frame(proto::Chat{"***", std::string(message), false});
  if (!native || !fallback) {
    return std::nullopt;
  }
  std::vector<SessionId> all;
  all.reserve(nicks_.size());
  for (const auto& [key, id] : nicks_) {
    if (members_.at(id).joined) {
      all.push_back(id);
    }
  }
  fan_out(all, kCapInfo, *native, &*fallback);
  return all.size();
}

std::vector<Hub::MemberView> Hub::members() const {
  std::vector<MemberView> out;
  out.reserve(members_.size());
  for (const auto& [id, m] : members_) {
    out.push_back(MemberView{id, m.nick, m.room, m.peer, m.joined, m.since, m.transport});
  }
  return out;
}

std::optional<Hub::MemberView> Hub::member(SessionId id) const {
  const auto it = members_.find(id);
  if (it == members_.end()) {
    return std::nullopt;
  }
  const Member& m = it->second;
  return MemberView{id, m.nick, m.room, m.peer, m.joined, m.since, m.transport};
}

bool Hub::joined(SessionId id) const {
  const auto it = members_.find(id);
  return it != members_.end() && it->second.joined;
}

void Hub::on_hello(SessionId id, Member& m, proto::Hello hello) {
  std::string key = proto::nick_key(hello.nick);
  // A nick whose password is being checked is held: a second hello for it
  // meanwhile cannot also win.
  if (nicks_.count(key) != 0 || held_.count(key) != 0) {
    fail(id, ErrorCode::kNickTaken, "nick " + hello.nick + " is already connected", "nick-taken");
    return;
  }
  if (hello.password && m.transport == Transport::kPlain && !config_.allow_plaintext_passwords) {
    fail(id, ErrorCode::kTlsRequired,
         "this server accepts passwords only over TLS; connect with TLS (your password crossed "
         "the network in clear: consider changing it)",
         "tls-required");
    return;
  }
  if (!engine_->available()) {
    fail(id, ErrorCode::kClusterUnavailable,
         "this server cannot reach the other chat servers right now; try again shortly",
         "cluster-unavailable");
    return;
  }
  const bool registered = auth_ != nullptr && auth_->registered(hello.nick);
  if (!registered) {
    if (config_.require_accounts) {
      auth_fail(id, "this server admits registered nicks only; ask its operator for an account");
      return;
    }
    // A password for an unregistered nick is ignored (PROTOCOL-DECISIONS 51).
    claim(id, m, std::move(hello), key);
    return;
  }
  if (!hello.password) {
    auth_fail(id, "nick " + hello.nick + " is registered: a password is required");
    return;
  }
  std::string password = std::move(*hello.password);
  hello.password.reset();
  switch (auth_->start_verify(id, hello.nick, std::move(password))) {
    case Authenticator::Start::kStarted:
      m.verifying = true;
      m.held_key = key;
      held_.emplace(std::move(key), id);
      m.held = std::move(hello);
      return;
    case Authenticator::Start::kThrottled:
      ++counters_.auth_throttled;
      auth_fail(id, "too many failed logins from your address; try again later");
      return;
    case Authenticator::Start::kBusy:
      ++counters_.auth_throttled;
      auth_fail(id, "the server is busy checking other logins; try again in a moment");
      return;
  }
}

void Hub::auth_fail(SessionId id, std::string_view text) {
  ++counters_.auth_failures;
  fail(id, ErrorCode::kAuthFailed, text, "auth-failed");
}

bool Hub::verifying(SessionId id) const {
  const auto it = members_.find(id);
  return it != members_.end() && it->second.verifying;
}

void Hub::auth_result(SessionId id, bool ok) {
  CHAT_HUB_ENTRY();
  const auto it = members_.find(id);
  if (it == members_.end() || !it->second.verifying) {
    return;  // closed while its password was checked
  }
  Member& m = it->second;
  m.verifying = false;
  held_.erase(m.held_key);
  std::string key = std::move(m.held_key);
  proto::Hello hello = std::move(*m.held);
  m.held.reset();
  if (!ok) {
    auth_fail(id, "wrong password for nick " + hello.nick);
    return;
  }
  claim(id, m, std::move(hello), key);
}

void Hub::claim(SessionId id, Member& m, proto::Hello hello, const std::string& key) {
  // Held here while the engine asks the rest of the chat, so a second hello on
  // this node for the same nick is refused meanwhile.
  nicks_.emplace(key, id);
  m.claiming = true;
  engine_->claim_nick(key, [this, id, key, hello = std::move(hello)](bool claimed) mutable {
    const auto it = members_.find(id);
    if (it == members_.end() || !it->second.claiming) {
      // Gone while the engine answered: forget() already dropped the local hold.
      if (claimed) {
        engine_->release_nick(key);
      }
      return;
    }
    it->second.claiming = false;
    if (!claimed) {
      nicks_.erase(key);
      if (!engine_->available()) {
        fail(id, ErrorCode::kClusterUnavailable,
             "this server cannot reach the other chat servers right now; try again shortly",
             "cluster-unavailable");
        return;
      }
      fail(id, ErrorCode::kNickTaken, "nick " + hello.nick + " is already connected", "nick-taken");
      return;
    }
    complete_hello(id, std::move(hello));
  });
}

void Hub::complete_hello(SessionId id, proto::Hello hello) {
  Member& m = members_.at(id);
  m.joined = true;
  m.nick = std::move(hello.nick);
  m.room = std::string(kLobby);
  m.since = std::chrono::system_clock::now();
  ++joined_count_;

  if (hello.caps) {
    m.modern = true;
    std::vector<std::string> accepted;
    const auto& known = proto::known_caps();
    for (auto& cap : *hello.caps) {
      const auto k = std::find(known.begin(), known.end(), cap);
      if (k == known.end()) {
        continue;
      }
      const unsigned bit = 1U << static_cast<unsigned>(k - known.begin());
      if ((m.caps & bit) == 0) {
        m.caps |= bit;
        accepted.push_back(std::move(cap));
      }
    }
    // A welcome always fits: nick, room and server name are short, caps are known names.
    if (auto welcome =
            make_frame(proto::Welcome{m.nick, kServerName, std::move(accepted), m.room})) {
      send(id, *welcome);
    }
    send_history(id, m);
  }
  add_to_room(id, m);
  spdlog::info("event=join session={} nick={} peer={} room={} mode={}", log_id(id),
               log_value(m.nick), m.peer, log_value(m.room), m.modern ? "modern" : "legacy");
  announce_join(m);
}

void Hub::on_packet(SessionId id, Member& m, proto::ClientPacket packet) {
  if (auto* chat = std::get_if<proto::ChatRequest>(&packet)) {
    const auto frame = make_frame(proto::Chat{m.nick, std::move(chat->message), false});
    if (!frame) {
      send_error(id, m, ErrorCode::kBadMessage, kTooLong);
      return;
    }
    Room& room = rooms_[m.room];
    const std::int64_t ts = now_ms();
    if (room.timed == 0) {
      // The hot path: one form for everyone, no per-recipient lookup.
      for (const SessionId to : room.members) {
        send(to, *frame);
      }
    } else {
      fan_out(room.members, 0, *frame, nullptr, ts);
    }
    engine_->publish(m.room, RoomEvent{&*frame, nullptr, 0, ts});
    engine_->remember(m.room, *frame, nullptr, ts);
  } else if (auto* emote = std::get_if<proto::EmoteRequest>(&packet)) {
    const auto fallback = make_frame(proto::Chat{"*", m.nick + " " + emote->message, false});
    const auto native = make_frame(proto::Emote{m.nick, std::move(emote->message), false});
    if (!native || !fallback) {
      send_error(id, m, ErrorCode::kBadMessage, kTooLong);
      return;
    }
    Room& room = rooms_[m.room];
    const std::int64_t ts = now_ms();
    fan_out(room.members, kCapEmote, *native, &*fallback, ts);
    engine_->publish(m.room, RoomEvent{&*native, &*fallback, kCapEmote, ts});
    engine_->remember(m.room, *native, &*fallback, ts);
  } else if (auto* dm = std::get_if<proto::DmRequest>(&packet)) {
    const std::string to_key = proto::nick_key(dm->to);
    const auto target = nicks_.find(to_key);
    if (target == nicks_.end() || !members_.at(target->second).joined) {
      direct_elsewhere(id, m, to_key, std::move(*dm));
      return;
    }
    const Member& to = members_.at(target->second);
    const auto native = make_frame(proto::Dm{m.nick, to.nick, dm->message});
    const auto fallback = make_frame(proto::Chat{m.nick + " -> " + to.nick, dm->message, false});
    if (!native || !fallback) {
      send_error(id, m, ErrorCode::kBadMessage, kTooLong);
      return;
    }
    std::vector<SessionId> recipients{target->second};
    if (target->second != id) {
      recipients.push_back(id);
    }
    fan_out(recipients, kCapDm, *native, &*fallback, now_ms());
  } else if (std::holds_alternative<proto::WhoRequest>(packet)) {
    if ((m.caps & kCapWho) == 0) {
      return;  // no fallback: the event does not reach this connection
    }
    proto::WhoReply reply{m.room, {}};
    for (const SessionId member : rooms_[m.room].members) {
      reply.nicks.push_back(members_.at(member).nick);
    }
    engine_->remote_members(
        m.room, [this, id, reply = std::move(reply)](std::vector<std::string> elsewhere) mutable {
          if (members_.count(id) == 0) {
            return;
          }
          reply.nicks.insert(reply.nicks.end(), std::make_move_iterator(elsewhere.begin()),
                             std::make_move_iterator(elsewhere.end()));
          // UTF-8 byte order is code point order.
          std::sort(reply.nicks.begin(), reply.nicks.end());
          if (auto frame = trimmed_frame(std::move(reply), &proto::WhoReply::nicks)) {
            send(id, *frame);
          }
        });
  } else if (std::holds_alternative<proto::RoomsRequest>(packet)) {
    if ((m.caps & kCapRooms) == 0) {
      return;
    }
    std::map<std::string, std::size_t> counts;  // sorted by name
    for (const auto& [name, room] : rooms_) {
      counts[name] = room.members.size();
    }
    engine_->remote_rooms(
        [this, id, counts = std::move(counts)](
            const std::vector<std::pair<std::string, std::size_t>>& elsewhere) mutable {
          if (members_.count(id) == 0) {
            return;
          }
          for (auto& [name, n] : elsewhere) {
            counts[name] += n;
          }
          proto::RoomsReply reply;
          for (auto& [name, n] : counts) {
            reply.rooms.push_back({name, n});
          }
          if (auto frame = trimmed_frame(std::move(reply), &proto::RoomsReply::rooms)) {
            send(id, *frame);
          }
        });
  } else if (auto* enter = std::get_if<proto::EnterRequest>(&packet)) {
    const auto known = room_names_.find(proto::room_key(enter->room));
    const std::string room = known == room_names_.end() ? enter->room : known->second;
    if (room != m.room) {
      enter_room(id, m, room);
    }
  }
}

void Hub::direct_elsewhere(SessionId id, const Member& m, const std::string& to_key,
                           proto::DmRequest dm) {
  auto native = make_frame(proto::Dm{m.nick, dm.to, dm.message});
  auto fallback = make_frame(proto::Chat{m.nick + " -> " + dm.to, dm.message, false});
  if (!native || !fallback) {
    send_error(id, m, ErrorCode::kNoSuchNick, "no user " + dm.to + " is connected");
    return;
  }
  const std::int64_t ts = now_ms();
  // The callback keeps its own references to the frames (a copy is a count),
  // made before the call: the event points at these.
  auto done = [this, id, to = std::move(dm.to), native = *native, fallback = *fallback,
               ts](bool delivered) {
    const auto it = members_.find(id);
    if (it == members_.end()) {
      return;
    }
    if (!delivered) {
      send_error(id, it->second, ErrorCode::kNoSuchNick, "no user " + to + " is connected");
      return;
    }
    fan_out({id}, kCapDm, native, &fallback, ts);  // the sender's copy
  };
  engine_->direct(to_key, RoomEvent{&*native, &*fallback, kCapDm, ts}, std::move(done));
}

void Hub::send(SessionId id, const Frame& frame) {
#ifndef NDEBUG
  const BroadcastGuard guard(broadcasting_);
#endif
  outbox_.send(id, frame);
}

void Hub::fan_out(const std::vector<SessionId>& to, unsigned cap, const Frame& native,
                  const Frame* fallback, std::optional<std::int64_t> ts) {
  std::optional<Frame> native_ts;
  std::optional<Frame> fallback_ts;
  for (const SessionId id : to) {
    const auto it = members_.find(id);
    if (it == members_.end()) {
      continue;
    }
    const unsigned caps = it->second.caps;
    const bool is_native = (caps & cap) != 0 || cap == 0;
    if (!is_native && fallback == nullptr) {
      continue;
    }
    const Frame& plain = is_native ? native : *fallback;
    if (!ts || (caps & kCapTime) == 0) {
      send(id, plain);
      continue;
    }
    auto& stamped = is_native ? native_ts : fallback_ts;
    if (!stamped) {
      stamped = timed_frame(plain, *ts);
    }
    send(id, *stamped);
  }
}

void Hub::send_error(SessionId id, const Member& m, ErrorCode code, std::string_view text) {
  // Per-packet errors are the peer's business: debug level and a counter, so a
  // client sending bad packets in a loop cannot flood the log.
  if (m.modern) {
    send(id, error_frame(code, text));
    spdlog::debug("event=client-error session={} nick={} code={} detail={}", log_id(id),
                  log_value(m.nick), proto::error_name(code), log_value(text));
  } else {
    spdlog::debug("event=dropped session={} nick={} code={} detail={}", log_id(id),
                  log_value(m.nick), proto::error_name(code), log_value(text));
  }
}

void Hub::fail(SessionId id, ErrorCode code, std::string_view text, std::string_view reason) {
  send(id, error_frame(code, text));
  spdlog::warn("event=reject session={} code={} detail={}", log_id(id), proto::error_name(code),
               log_value(text));
  forget(id, reason);
  outbox_.close(id, reason);
}

void Hub::forget(SessionId id, std::string_view reason) {
  const auto it = members_.find(id);
  if (it == members_.end()) {
    return;
  }
  Member& m = it->second;
  if (m.joined) {
    const std::string key = proto::nick_key(m.nick);
    nicks_.erase(key);
    engine_->release_nick(key);
    --joined_count_;
    leave_room(id, m, true);
    spdlog::info("event=leave session={} nick={} peer={} reason={}", log_id(id), log_value(m.nick),
                 m.peer, log_value(reason));
  } else {
    if (m.claiming) {
      // The engine's answer finds the member gone and gives back a granted claim.
      for (auto n = nicks_.begin(); n != nicks_.end(); ++n) {
        if (n->second == id) {
          nicks_.erase(n);
          break;
        }
      }
    }
    if (m.verifying) {
      held_.erase(m.held_key);  // the late result finds no member and is ignored
    }
    spdlog::info("event=close session={} peer={} reason={}", log_id(id), m.peer, log_value(reason));
  }
  members_.erase(it);
}

void Hub::enter_room(SessionId id, Member& m, const std::string& room) {
  const std::string from = m.room;
  leave_room(id, m, true, &room);
  m.room = room;
  add_to_room(id, m);
  room_names_.emplace(proto::room_key(room), room);
  spdlog::info("event=enter session={} nick={} from={} room={}", log_id(id), log_value(m.nick),
               log_value(from), log_value(room));
  send_history(id, m);
  announce_join(m);
}

void Hub::leave_room(SessionId id, Member& m, bool announce, const std::string* moving_to) {
  const auto it = rooms_.find(m.room);
  if (it == rooms_.end()) {
    return;
  }
  auto& list = it->second.members;
  list.erase(std::remove(list.begin(), list.end(), id), list.end());
  if ((m.caps & kCapTime) != 0) {
    --it->second.timed;
  }
  if (announce) {
    announce_leave(m, moving_to);  // the engine learns of the leave with its event
  } else {
    engine_->member_left(m.room, m.nick, RoomEvent{});
  }
  if (list.empty() && it->first != kLobby) {
    erase_room(it);
  }
}

void Hub::add_to_room(SessionId id, const Member& m) {
  Room& room = rooms_[m.room];
  room.members.push_back(id);
  if ((m.caps & kCapTime) != 0) {
    ++room.timed;
  }
}

void Hub::erase_room(std::map<std::string, Room>::iterator it) {
  engine_->room_emptied(it->first);
  room_names_.erase(proto::room_key(it->first));
  rooms_.erase(it);
}

void Hub::announce_join(const Member& m) {
  const auto native = make_frame(proto::Join{m.nick, m.room});
  const auto fallback = make_frame(proto::Join{m.nick, std::nullopt});
  if (!native || !fallback) {  // nick and room are at most 32 code points: never
    engine_->member_joined(m.room, m.nick, RoomEvent{});
    return;
  }
  fan_out(rooms_[m.room].members, kCapRooms, *native, &*fallback);
  // The membership and its announcement reach other nodes together.
  engine_->member_joined(m.room, m.nick, RoomEvent{&*native, &*fallback, kCapRooms, std::nullopt});
}

void Hub::announce_leave(const Member& m, const std::string* moving_to) {
  const auto native = make_frame(proto::Leave{m.nick, m.room});
  const auto fallback = make_frame(proto::Leave{m.nick, std::nullopt});
  if (!native || !fallback) {
    engine_->member_left(m.room, m.nick, RoomEvent{});
    return;
  }
  // A move: members with `rooms` and `moves` also learn where to, on every node.
  const auto moved =
      moving_to == nullptr ? std::nullopt : make_frame(proto::Leave{m.nick, m.room, *moving_to});
  // The membership and its announcement reach other nodes together.
  engine_->member_left(
      m.room, m.nick,
      RoomEvent{&*native, &*fallback, kCapRooms, std::nullopt, moved ? &*moved : nullptr});
  if (!moved) {
    fan_out(rooms_[m.room].members, kCapRooms, *native, &*fallback);
    return;
  }
  fan_out_move(rooms_[m.room].members, *native, *fallback, *moved);
}

void Hub::fan_out_move(const std::vector<SessionId>& to, const Frame& native, const Frame& fallback,
                       const Frame& moved) {
  for (const SessionId id : to) {
    const auto it = members_.find(id);
    if (it == members_.end()) {
      continue;
    }
    const unsigned caps = it->second.caps;
    if ((caps & (kCapRooms | kCapMoves)) == (kCapRooms | kCapMoves)) {
      send(id, moved);
    } else {
      send(id, (caps & kCapRooms) != 0 ? native : fallback);
    }
  }
}

void Hub::send_history(SessionId id, const Member& m) {
  if ((m.caps & kCapHistory) == 0) {
    return;
  }
  engine_->replay(m.room, (m.caps & kCapEmote) != 0, (m.caps & kCapTime) != 0, config_.replay_bytes,
                  [this, id](const Frame& frame) { send(id, frame); });
}

}  // namespace chat::daemon
