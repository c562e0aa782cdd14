// Hub: applies client packets to the chat state and decides who receives what.
#include "daemon/hub.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "daemon/logging.hpp"
#include "protocol/codec.hpp"
#include "protocol/frame.hpp"
#include "protocol/rules.hpp"
#include "version.hpp"

namespace chat::daemon {

using proto::ErrorCode;

Frame make_frame(const proto::ServerPacket& packet) {
  const std::string payload = proto::encode(packet);
  if (payload.size() > proto::kMaxPayload) {
    return nullptr;  // the caller reports or trims; an empty frame is never queued
  }
  return std::make_shared<const std::string>(proto::encode_frame(payload));
}

namespace {

bool fits(const proto::ServerPacket& packet) {
  return proto::encode(packet).size() <= proto::kMaxPayload;
}

// Cuts a list reply from the end until it fits in one frame, and marks it so.
template <typename Reply, typename List>
Frame trimmed_frame(Reply reply, List Reply::*list) {
  Frame frame = make_frame(reply);
  while (!frame && !(reply.*list).empty()) {
    auto& items = reply.*list;
    items.resize(items.size() - std::max<std::size_t>(1, items.size() / 8));
    reply.truncated = true;
    frame = make_frame(reply);
  }
  return frame;
}

// The form for connections without the `time` cap.
proto::ServerPacket without_ts(proto::ServerPacket packet) {
  std::visit(
      [](auto& p) {
        if constexpr (requires { p.ts; }) {
          p.ts.reset();
        }
      },
      packet);
  return packet;
}

// The form for connections with the `time` cap: when the server received it.
proto::ServerPacket with_ts(proto::ServerPacket packet, std::int64_t ts) {
  std::visit(
      [ts](auto& p) {
        if constexpr (requires { p.ts; }) {
          p.ts = ts;
        }
      },
      packet);
  return packet;
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

constexpr std::string_view kTooLong = "message too long to relay with your nick in one packet";

}  // namespace

Hub::Hub(Outbox& outbox, HubConfig config) : outbox_(outbox), config_(config) {
  rooms_[std::string(kLobby)];  // always exists, even when empty
}

void Hub::set_config(HubConfig config) {
  config_ = config;
  // Without this, a SIGHUP to a smaller history (or 0 = off) would keep replaying
  // the old lines until enough new ones pushed them out.
  for (auto& [name, room] : rooms_) {
    while (room.history.size() > config_.history_size) {
      room.history.pop_front();
    }
  }
}

void Hub::connect(SessionId id, std::string peer) {
  Member m;
  m.peer = std::move(peer);
  m.since = std::chrono::system_clock::now();
  members_.emplace(id, std::move(m));
}

void Hub::receive(SessionId id, std::string_view payload) {
  const auto it = members_.find(id);
  if (it == members_.end()) {
    return;  // closed earlier in this wake-up; its remaining input is void
  }
  Member& m = it->second;
  auto decoded = proto::decode_client(payload);
  if (auto* err = std::get_if<proto::DecodeError>(&decoded)) {
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
  if (members_.count(id) != 0) {
    fail(id, ErrorCode::kBadPacket, "zero-length frame", "bad-packet");
  }
}

void Hub::disconnect(SessionId id, std::string_view reason) {
  forget(id, reason);
}

void Hub::close_with_error(SessionId id, ErrorCode code, std::string_view message,
                           std::string_view reason) {
  if (members_.count(id) != 0) {
    fail(id, code, message, reason);
  }
}

bool Hub::kick(std::string_view nick, std::string_view reason) {
  const auto it = nicks_.find(proto::nick_key(nick));
  if (it == nicks_.end()) {
    return false;
  }
  const std::string text = reason.empty() ? std::string("kicked by the operator")
                                          : "kicked by the operator: " + std::string(reason);
  fail(it->second, ErrorCode::kKicked, text, "kicked");
  return true;
}

std::size_t Hub::say(std::string_view message) {
  std::vector<SessionId> all;
  all.reserve(nicks_.size());
  for (const auto& [key, id] : nicks_) {
    all.push_back(id);
  }
  const proto::ServerPacket native = proto::Info{std::string(message)};
  const proto::ServerPacket fallback = proto::Chat{"***", std::string(message), false};
  fan_out(all, kCapInfo, native, &fallback);
  return all.size();
}

std::vector<Hub::MemberView> Hub::members() const {
  std::vector<MemberView> out;
  out.reserve(members_.size());
  for (const auto& [id, m] : members_) {
    out.push_back(MemberView{id, m.nick, m.room, m.peer, m.joined, m.since});
  }
  return out;
}

std::optional<Hub::MemberView> Hub::member(SessionId id) const {
  const auto it = members_.find(id);
  if (it == members_.end()) {
    return std::nullopt;
  }
  const Member& m = it->second;
  return MemberView{id, m.nick, m.room, m.peer, m.joined, m.since};
}

bool Hub::joined(SessionId id) const {
  const auto it = members_.find(id);
  return it != members_.end() && it->second.joined;
}

void Hub::on_hello(SessionId id, Member& m, proto::Hello hello) {
  std::string key = proto::nick_key(hello.nick);
  if (nicks_.count(key) != 0) {
    fail(id, ErrorCode::kNickTaken, "nick " + hello.nick + " is already connected", "nick-taken");
    return;
  }
  m.joined = true;
  m.nick = std::move(hello.nick);
  m.room = std::string(kLobby);
  m.since = std::chrono::system_clock::now();
  nicks_.emplace(std::move(key), id);
  rooms_[m.room].members.push_back(id);

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
    send(id, make_frame(proto::Welcome{m.nick, kServerName, std::move(accepted), m.room}));
    send_history(id, m);
  }
  spdlog::info("event=join session={} nick={} peer={} room={} mode={}", id, field(m.nick), m.peer,
               field(m.room), m.modern ? "modern" : "legacy");
  announce_join(m);
}

void Hub::on_packet(SessionId id, Member& m, proto::ClientPacket packet) {
  if (auto* chat = std::get_if<proto::ChatRequest>(&packet)) {
    proto::ServerPacket out = proto::Chat{m.nick, std::move(chat->message), false};
    if (!fits(out)) {
      send_error(id, m, ErrorCode::kBadMessage, kTooLong);
      return;
    }
    // No cap selects a form: everyone gets `out` (stamped for the time cap).
    fan_out_timed(rooms_[m.room].members, 0, out, &out);
    remember(m.room, std::move(out));
  } else if (auto* emote = std::get_if<proto::EmoteRequest>(&packet)) {
    const proto::ServerPacket fallback = proto::Chat{"*", m.nick + " " + emote->message, false};
    proto::ServerPacket native = proto::Emote{m.nick, std::move(emote->message), false};
    if (!fits(native) || !fits(fallback)) {
      send_error(id, m, ErrorCode::kBadMessage, kTooLong);
      return;
    }
    fan_out_timed(rooms_[m.room].members, kCapEmote, native, &fallback);
    remember(m.room, std::move(native));
  } else if (auto* dm = std::get_if<proto::DmRequest>(&packet)) {
    const auto target = nicks_.find(proto::nick_key(dm->to));
    if (target == nicks_.end()) {
      send_error(id, m, ErrorCode::kNoSuchNick, "no user " + dm->to + " is connected");
      return;
    }
    const Member& to = members_.at(target->second);
    const proto::ServerPacket native = proto::Dm{m.nick, to.nick, dm->message};
    const proto::ServerPacket fallback = proto::Chat{m.nick + " -> " + to.nick, dm->message, false};
    if (!fits(native) || !fits(fallback)) {
      send_error(id, m, ErrorCode::kBadMessage, kTooLong);
      return;
    }
    std::vector<SessionId> recipients{target->second};
    if (target->second != id) {
      recipients.push_back(id);
    }
    fan_out_timed(recipients, kCapDm, native, &fallback);
  } else if (std::holds_alternative<proto::WhoRequest>(packet)) {
    if ((m.caps & kCapWho) == 0) {
      return;  // no fallback: the event does not reach this connection
    }
    proto::WhoReply reply{m.room, {}};
    for (const SessionId member : rooms_[m.room].members) {
      reply.nicks.push_back(members_.at(member).nick);
    }
    // UTF-8 byte order is code point order.
    std::sort(reply.nicks.begin(), reply.nicks.end());
    send(id, trimmed_frame(std::move(reply), &proto::WhoReply::nicks));
  } else if (std::holds_alternative<proto::RoomsRequest>(packet)) {
    if ((m.caps & kCapRooms) == 0) {
      return;
    }
    proto::RoomsReply reply;
    for (const auto& [name, room] : rooms_) {
      reply.rooms.push_back({name, room.members.size()});
    }
    send(id, trimmed_frame(std::move(reply), &proto::RoomsReply::rooms));
  } else if (auto* enter = std::get_if<proto::EnterRequest>(&packet)) {
    if (enter->room != m.room) {
      enter_room(id, m, enter->room);
    }
  }
}

void Hub::fan_out(const std::vector<SessionId>& to, unsigned cap, const proto::ServerPacket& native,
                  const proto::ServerPacket* fallback) {
  Frame native_frame;
  Frame fallback_frame;
  for (const SessionId id : to) {
    const auto it = members_.find(id);
    if (it == members_.end()) {
      continue;
    }
    if ((it->second.caps & cap) != 0) {
      if (!native_frame) {
        native_frame = make_frame(native);
      }
      send(id, native_frame);
    } else if (fallback != nullptr) {
      if (!fallback_frame) {
        fallback_frame = make_frame(*fallback);
      }
      send(id, fallback_frame);
    }
  }
}

void Hub::send_error(SessionId id, const Member& m, ErrorCode code, std::string_view text) {
  if (m.modern) {
    send(id,
         std::make_shared<const std::string>(proto::encode_frame(proto::encode_error(code, text))));
    spdlog::debug("event=client-error session={} nick={} code={} detail={}", id, field(m.nick),
                  proto::error_name(code), field(text));
  } else {
    spdlog::warn("event=dropped session={} nick={} code={} detail={}", id, field(m.nick),
                 proto::error_name(code), field(text));
  }
}

void Hub::fail(SessionId id, ErrorCode code, std::string_view text, std::string_view reason) {
  send(id,
       std::make_shared<const std::string>(proto::encode_frame(proto::encode_error(code, text))));
  spdlog::warn("event=reject session={} code={} detail={}", id, proto::error_name(code),
               field(text));
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
    nicks_.erase(proto::nick_key(m.nick));
    leave_room(id, m, true);
    spdlog::info("event=leave session={} nick={} peer={} reason={}", id, field(m.nick), m.peer,
                 field(reason));
  } else {
    spdlog::info("event=close session={} peer={} reason={}", id, m.peer, field(reason));
  }
  members_.erase(it);
}

void Hub::enter_room(SessionId id, Member& m, const std::string& room) {
  const std::string from = m.room;
  leave_room(id, m, true, &room);
  m.room = room;
  rooms_[room].members.push_back(id);
  spdlog::info("event=enter session={} nick={} from={} room={}", id, field(m.nick), field(from),
               field(room));
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
  if (announce) {
    announce_leave(m, moving_to);
  }
  if (list.empty() && it->first != kLobby) {
    rooms_.erase(it);
  }
}

void Hub::announce_join(const Member& m) {
  const proto::ServerPacket native = proto::Join{m.nick, m.room};
  const proto::ServerPacket fallback = proto::Join{m.nick, std::nullopt};
  fan_out(rooms_[m.room].members, kCapRooms, native, &fallback);
}

void Hub::announce_leave(const Member& m, const std::string* moving_to) {
  const proto::ServerPacket native = proto::Leave{m.nick, m.room};
  const proto::ServerPacket fallback = proto::Leave{m.nick, std::nullopt};
  if (moving_to == nullptr) {
    fan_out(rooms_[m.room].members, kCapRooms, native, &fallback);
    return;
  }
  // A move: members with `rooms` and `moves` also learn where to.
  std::vector<SessionId> told;
  std::vector<SessionId> others;
  for (const SessionId id : rooms_[m.room].members) {
    const auto it = members_.find(id);
    const bool both = it != members_.end() &&
                      (it->second.caps & (kCapRooms | kCapMoves)) == (kCapRooms | kCapMoves);
    (both ? told : others).push_back(id);
  }
  fan_out(others, kCapRooms, native, &fallback);
  const proto::ServerPacket moved = proto::Leave{m.nick, m.room, *moving_to};
  fan_out(told, kCapMoves, moved, nullptr);
}

void Hub::fan_out_timed(const std::vector<SessionId>& to, unsigned cap,
                        const proto::ServerPacket& native, const proto::ServerPacket* fallback) {
  std::vector<SessionId> timed;
  std::vector<SessionId> plain;
  for (const SessionId id : to) {
    const auto it = members_.find(id);
    if (it != members_.end()) {
      ((it->second.caps & kCapTime) != 0 ? timed : plain).push_back(id);
    }
  }
  fan_out(plain, cap, native, fallback);
  if (timed.empty()) {
    return;
  }
  const std::int64_t now = now_ms();
  const proto::ServerPacket native_ts = with_ts(native, now);
  const proto::ServerPacket fallback_ts = with_ts(fallback != nullptr ? *fallback : native, now);
  // A line that fits only without its stamp still reaches them, unstamped.
  if (fits(native_ts) && (fallback == nullptr || fits(fallback_ts))) {
    fan_out(timed, cap, native_ts, fallback != nullptr ? &fallback_ts : nullptr);
  } else {
    fan_out(timed, cap, native, fallback);
  }
}

void Hub::send_history(SessionId id, const Member& m) {
  if ((m.caps & kCapHistory) == 0) {
    return;
  }
  const auto it = rooms_.find(m.room);
  if (it == rooms_.end()) {
    return;
  }
  const bool timed = (m.caps & kCapTime) != 0;
  for (const auto& packet : it->second.history) {
    if (const auto* emote = std::get_if<proto::Emote>(&packet); emote && !(m.caps & kCapEmote)) {
      send(id, make_frame(proto::Chat{"*", emote->nick + " " + emote->message, true,
                                      timed ? emote->ts : std::nullopt}));
    } else if (timed) {
      send(id, make_frame(packet));
    } else {
      send(id, make_frame(without_ts(packet)));
    }
  }
}

void Hub::remember(const std::string& room, proto::ServerPacket packet) {
  if (config_.history_size == 0) {
    return;
  }
  // Stamped with when it was said, for replays to connections with the `time` cap.
  const std::int64_t now = now_ms();
  std::visit(
      [now](auto& p) {
        if constexpr (requires { p.history; }) {
          p.history = true;
        }
        if constexpr (requires { p.ts; }) {
          p.ts = now;
        }
      },
      packet);
  auto& history = rooms_[room].history;
  history.push_back(std::move(packet));
  while (history.size() > config_.history_size) {
    history.pop_front();
  }
}

}  // namespace chat::daemon
