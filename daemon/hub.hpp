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

#include "protocol/errors.hpp"
#include "protocol/packet.hpp"

namespace chat::daemon {

using SessionId = std::uint64_t;
// A framed packet (length prefix + payload), encoded once and shared by every
// recipient's output queue.
using Frame = std::shared_ptr<const std::string>;

// Null if the packet does not fit in one frame (payload over 65535 bytes).
Frame make_frame(const proto::ServerPacket& packet);

// Where the hub's output goes: the server's sessions, or a recorder in tests.
class Outbox {
 public:
  virtual ~Outbox() = default;
  virtual void send(SessionId id, const Frame& frame) = 0;
  // Nothing more will be sent to `id`: flush what is queued, then close. The hub
  // has already forgotten the session when it calls this.
  virtual void close(SessionId id, std::string_view reason) = 0;
};

struct HubConfig {
  std::size_t history_size = 20;  // per room; 0 turns history off
};

class Hub {
 public:
  static constexpr std::string_view kLobby = "lobby";

  Hub(Outbox& outbox, HubConfig config);

  // A connection was accepted. `peer` is for logs and `who`.
  void connect(SessionId id, std::string peer);
  // One complete payload from the connection.
  void receive(SessionId id, std::string_view payload);
  // The stream broke framing (N = 0): bad-packet, then close.
  void reject_frame(SessionId id);
  // The connection is gone (EOF, reset, send-queue overflow): `leave` once if joined.
  void disconnect(SessionId id, std::string_view reason);
  // Server-initiated close with an error packet (hello-timeout, flood, kicked...).
  void close_with_error(SessionId id, proto::ErrorCode code, std::string_view message,
                        std::string_view reason);

  // Operator actions. kick: false if nobody has that nick.
  bool kick(std::string_view nick, std::string_view reason);
  // `info` to every joined client; returns the number of recipients.
  std::size_t say(std::string_view message);

  // Applies at once: a lowered history size trims every room's history now.
  void set_config(HubConfig config);

  struct MemberView {
    SessionId id;
    std::string nick;
    std::string room;
    std::string peer;
    bool joined;
    std::chrono::system_clock::time_point since;
  };
  std::vector<MemberView> members() const;
  std::optional<MemberView> member(SessionId id) const;
  bool joined(SessionId id) const;
  std::size_t joined_count() const { return nicks_.size(); }
  std::size_t room_count() const { return rooms_.size(); }

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
    std::string nick;  // empty until joined
    std::string room;
    bool joined = false;
    bool modern = false;
    unsigned caps = 0;
    std::chrono::system_clock::time_point since;
  };
  struct Room {
    std::vector<SessionId> members;  // in join order
    std::deque<proto::ServerPacket> history;
  };
  // Sends `native` to members that accepted `cap` and `fallback` (if any) to the
  // others; each form is encoded once, whatever the number of recipients.
  void fan_out(const std::vector<SessionId>& to, unsigned cap, const proto::ServerPacket& native,
               const proto::ServerPacket* fallback);

  // fan_out, with `ts` added for members with the `time` cap (each form encoded once).
  void fan_out_timed(const std::vector<SessionId>& to, unsigned cap,
                     const proto::ServerPacket& native, const proto::ServerPacket* fallback);

  void on_hello(SessionId id, Member& m, proto::Hello hello);
  void on_packet(SessionId id, Member& m, proto::ClientPacket packet);
  void send(SessionId id, const Frame& frame) {
    if (frame) {  // null: a replayed or fallback form too long for a frame; skipped
      outbox_.send(id, frame);
    }
  }
  void send_error(SessionId id, const Member& m, proto::ErrorCode code, std::string_view text);
  void fail(SessionId id, proto::ErrorCode code, std::string_view text, std::string_view reason);
  void enter_room(SessionId id, Member& m, const std::string& room);
  // `moving_to`: the room `m` is entering, told to the `moves` cap (null: leaving the chat).
  void leave_room(SessionId id, Member& m, bool announce, const std::string* moving_to = nullptr);
  void announce_join(const Member& m);
  void announce_leave(const Member& m, const std::string* moving_to = nullptr);
  void send_history(SessionId id, const Member& m);
  void remember(const std::string& room, proto::ServerPacket packet);
  void forget(SessionId id, std::string_view reason);

  Outbox& outbox_;
  HubConfig config_;
  std::unordered_map<SessionId, Member> members_;
  std::unordered_map<std::string, SessionId> nicks_;  // nick_key -> session
  std::map<std::string, Room> rooms_;                 // sorted by name for `rooms`
};

}  // namespace chat::daemon
