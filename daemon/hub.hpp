// The chat hub: nicks, rooms, caps, broadcast and history. Knows no sockets.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "daemon/defaults.hpp"
#include "daemon/engine.hpp"
#include "daemon/slot_map.hpp"
#include "protocol/errors.hpp"
#include "protocol/frame.hpp"
#include "protocol/packet.hpp"

namespace chat::daemon {

// How a session reached chatd: the hub decides on it (passwords need TLS) and
// `chatctl who` shows it.
enum class Transport { kPlain, kTls };
// A framed packet, encoded once and shared by every recipient's output queue.
using Frame = proto::Frame;

// nullopt if the packet does not fit in one frame (payload over 65535 bytes).
std::optional<Frame> make_frame(const proto::ServerPacket& packet);
// The frame of an error packet; always exists (encode_error bounds the message).
Frame error_frame(proto::ErrorCode code, std::string_view message);
// The replayed form of a live chat/emote frame (nullopt if it would not fit).
std::optional<Frame> history_frame(const Frame& live);
// `frame` stamped with `ts` for the time cap; `frame` itself if the stamp would
// not fit (a line goes out unstamped rather than not at all).
Frame timed_frame(const Frame& frame, std::int64_t ts);

// Where the hub's output goes: the server's sessions, or a recorder in tests.
//
// Contract: send() and close() only queue work. They never call back into the
// hub (no receive/disconnect/close_with_error from inside them): the hub is in
// the middle of a broadcast when it calls send(), iterating a room's member
// list. A recipient that must be dropped (send-queue overflow) is reported to
// the hub later, after the broadcast. Debug builds assert this.
class Outbox {
 public:
  virtual ~Outbox() = default;
  virtual void send(SessionId id, const Frame& frame) = 0;
  // Nothing more will be sent to `id`: flush what is queued, then close. The hub
  // has already forgotten the session when it calls this.
  virtual void close(SessionId id, std::string_view reason) = 0;
};

struct HubConfig {
  std::size_t history_size = defaults::kHistoryLines;   // lines per room; 0 turns history off
  std::size_t history_bytes = defaults::kHistoryBytes;  // bytes per room (frames)
  // Most bytes of history replayed to one newcomer (the newest lines that fit):
  // the server sets it under its send-queue limit so a replay never overflows it.
  std::size_t replay_bytes = std::size_t{2} * 1024 * 1024;
  // --require-accounts: only registered nicks may join.
  bool require_accounts = false;
  // --allow-plaintext-passwords: a password on a plain connection is checked
  // instead of refused with tls-required.
  bool allow_plaintext_passwords = false;
};

// What the hub counts (shown by `chatctl status`).
struct HubCounters {
  std::uint64_t protocol_errors = 0;  // packets refused by the codec or the rules
  std::uint64_t auth_failures = 0;    // hellos refused with auth-failed
  std::uint64_t auth_throttled = 0;   // of those, refused without hashing (rate limit, busy)
};

// Registered nicks, seen from the hub: the server looks accounts up and runs the
// verifications off the loop's thread.
class Authenticator {
 public:
  virtual ~Authenticator() = default;
  virtual bool registered(std::string_view nick) const = 0;
  enum class Start { kStarted, kThrottled, kBusy };
  // Starts checking `password` for the registered `nick` on behalf of session
  // `id`. With kStarted the answer comes later through Hub::auth_result, never
  // from inside this call; kThrottled: the session's address failed too often;
  // kBusy: too many verifications are outstanding.
  virtual Start start_verify(SessionId id, std::string_view nick, std::string password) = 0;
};

class Hub {
 public:
  static constexpr std::string_view kLobby = "lobby";

  // `engine`: the rest of the chat (not owned); null: a memory engine of the hub's own.
  Hub(Outbox& outbox, HubConfig config, Engine* engine = nullptr);
  ~Hub();
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  // A connection was accepted. `peer` is for logs and `who`.
  void connect(SessionId id, std::string peer, Transport transport = Transport::kPlain);
  // One complete payload from the connection.
  void receive(SessionId id, std::string_view payload);
  // The stream broke framing (N = 0): bad-packet, then close.
  void reject_frame(SessionId id);
  // The connection is gone (EOF, reset, send-queue overflow): `leave` once if joined.
  void disconnect(SessionId id, std::string_view reason);
  // Server-initiated close with an error packet (hello-timeout, flood, kicked...).
  void close_with_error(SessionId id, proto::ErrorCode code, std::string_view message,
                        std::string_view reason);

  // Operator actions.
  enum class KickResult { kKicked, kNoSuchNick };
  // `reason` may be empty; the user reads "kicked by the operator[: reason]".
  KickResult kick(std::string_view nick, std::string_view reason);
  // `info` to every joined client; the number of recipients, or nullopt if the
  // message is too long to send (nothing is sent then).
  std::optional<std::size_t> say(std::string_view message);

  // Applies at once: a lowered history size trims every room's history now.
  void set_config(HubConfig config);
  // Where registered nicks are checked; without one (nullptr) every nick is
  // unregistered.
  void set_authenticator(Authenticator* auth) { auth_ = auth; }
  // The verification started for `id` has finished: join, or auth-failed. A
  // session that is gone (or no longer waiting) is ignored.
  void auth_result(SessionId id, bool ok);
  // True while `id`'s hello waits for its password check: its nick is held and
  // its further input must wait.
  bool verifying(SessionId id) const;

  // From the engine: an event another node published to `room`, for this
  // node's members of it.
  void deliver(const std::string& room, const RoomEvent& event);
  // From the engine: a DM another node routed here, for the session holding
  // the nick `to_key` (dropped if none does any more).
  void deliver_direct(const std::string& to_key, const RoomEvent& event);
  // From the engine: `nick`, a member of `room` on another node, is gone (its
  // node died, or its node's records say so): `leave` to this node's members.
  void remote_left(const std::string& room, const std::string& nick);
  // From the engine: the nick `to_key` belongs to another node after all (a
  // conflict resolved in Redis's holder's favour): its local user is closed
  // with nick-taken.
  void drop_nick(const std::string& to_key);

  struct MemberView {
    SessionId id;
    std::string nick;
    std::string room;
    std::string peer;
    bool joined;
    std::chrono::system_clock::time_point since;
    Transport transport;
  };
  std::vector<MemberView> members() const;
  std::optional<MemberView> member(SessionId id) const;
  bool joined(SessionId id) const;
  std::size_t joined_count() const { return joined_count_; }
  std::size_t room_count() const { return rooms_.size(); }
  const HubCounters& counters() const { return counters_; }
  // Bytes of history this process holds (the engine's, if it keeps it here).
  std::size_t history_bytes() const { return engine_->local_history_bytes(); }
  // Drops the oldest lines of the room with the most history; false if there is
  // none (the memory budget's last resort).
  bool shed_history() { return engine_->shed_history(); }
  const Engine& engine() const { return *engine_; }
  Engine& engine() { return *engine_; }

 private:
  enum Cap : unsigned {
    kCapDm = 1,
    kCapEmote = 2,
    kCapWho = 4,
    kCapRooms = 8,
    kCapInfo = 16,
    kCapHistory = 32,
    kCapTime = 64,
    kCapMoves = 128,
  };
  struct Member {
    std::string peer;
    Transport transport = Transport::kPlain;
    std::string nick;  // empty until joined
    std::string room;
    bool joined = false;
    bool claiming = false;             // hello waits for the engine's answer on the nick
    bool verifying = false;            // hello held for a password check
    std::optional<proto::Hello> held;  // that hello (its password dropped)
    std::string held_key;              // its nick key, in held_
    bool modern = false;
    unsigned caps = 0;
    std::chrono::system_clock::time_point since;
  };
  // This node's members of a room (the engine knows the rest of it).
  struct Room {
    std::vector<SessionId> members;  // in join order
    std::size_t timed = 0;           // members with the time cap
  };
  // Sends `native` to members that accepted `cap` and `fallback` (if any) to the
  // others. Both are encoded before the call, once, whatever the recipients. With
  // `ts`, members with the time cap get the form stamped with it (made once, on
  // first need, from the encoded form; unstamped if the stamp would not fit).
  void fan_out(const std::vector<SessionId>& to, unsigned cap, const Frame& native,
               const Frame* fallback, std::optional<std::int64_t> ts = std::nullopt);
  // A `leave` caused by `enter`: `moved` (with `to`) to members with `rooms` and
  // `moves`, `native` to the other members with `rooms`, `fallback` to the rest.
  void fan_out_move(const std::vector<SessionId>& to, const Frame& native, const Frame& fallback,
                    const Frame& moved);

  void on_hello(SessionId id, Member& m, proto::Hello hello);
  // The rest of a hello once the engine has granted the nick.
  void complete_hello(SessionId id, proto::Hello hello);
  // Asks the engine for the nick (held here meanwhile), then completes the hello.
  void claim(SessionId id, Member& m, proto::Hello hello, const std::string& key);
  void auth_fail(SessionId id, std::string_view text);
  void on_packet(SessionId id, Member& m, proto::ClientPacket packet);
  // A DM for a nick no session of this node holds: the engine's to deliver.
  void direct_elsewhere(SessionId id, const Member& m, const std::string& to_key,
                        proto::DmRequest dm);
  void send(SessionId id, const Frame& frame);
  void send_error(SessionId id, const Member& m, proto::ErrorCode code, std::string_view text);
  void fail(SessionId id, proto::ErrorCode code, std::string_view text, std::string_view reason);
  void enter_room(SessionId id, Member& m, const std::string& room);
  // `moving_to`: the room `m` is entering, told to the `moves` cap (null: leaving the chat).
  void leave_room(SessionId id, Member& m, bool announce, const std::string* moving_to = nullptr);
  void announce_join(const Member& m);
  void announce_leave(const Member& m, const std::string* moving_to = nullptr);
  void send_history(SessionId id, const Member& m);
  void add_to_room(SessionId id, const Member& m);
  void erase_room(std::map<std::string, Room>::iterator it);
  // This node's room named like `room` (any spelling of its key).
  std::map<std::string, Room>::iterator find_room(const std::string& room);
  void forget(SessionId id, std::string_view reason);

  Outbox& outbox_;
  HubConfig config_;
  std::unique_ptr<Engine> own_engine_;  // when none was given
  Engine* engine_;
  HubCounters counters_;
  SlotMap<Member> members_;  // indexed by the server's session ids
  // nick_key -> the session holding it (joined, or its hello waiting for the engine)
  std::unordered_map<std::string, SessionId> nicks_;
  std::size_t joined_count_ = 0;
  std::map<std::string, Room> rooms_;  // sorted by name for `rooms`
  // room_key -> the name in rooms_ (the first spelling used): `lobby` and `ｌｏｂｂｙ`
  // are one room, shown as `lobby`.
  std::unordered_map<std::string, std::string> room_names_;
  std::unordered_map<std::string, SessionId> held_;  // nick_key -> session verifying it
  Authenticator* auth_ = nullptr;
#ifndef NDEBUG
  bool broadcasting_ = false;  // inside outbox_.send: re-entry breaks the contract
#endif
};

}  // namespace chat::daemon
