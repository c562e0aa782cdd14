// The engine: what the hub asks of "the rest of the chat". With one chatd the
// rest of the chat is nobody, and the memory engine (the default) answers from
// this process; an engine shared by several chatd nodes (Redis, issue 15)
// answers the same questions for all of them.
//
// The hub keeps what only this node can know: its sessions, their caps, and
// which of them are in which room (the local fan-out, encode once). The engine
// keeps what every node must agree on: who holds a nick beyond this node, who is
// in a room elsewhere, what was said in a room (history), and it carries events
// to the members other nodes hold.
//
// Answers come through callbacks, which the memory engine calls before
// returning and a networked engine calls later from the event loop. Either way
// a callback never runs inside another engine call of the same hub's broadcast:
// engines, like the Outbox, never call back into the hub from inside a hub call
// except through these callbacks, and the memory engine's callbacks do only what
// the hub asked for.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/frame.hpp"

namespace chat::daemon {

// A chat event for a room's members elsewhere: the frame for readers with the
// capability `cap` (0: everyone) and the fallback for the others (may be null),
// and when it was said (for the time cap). A `leave` caused by `enter` also has
// `moved`, the form with `to` for readers with both `rooms` and `moves`.
struct RoomEvent {
  const proto::Frame* native = nullptr;
  const proto::Frame* fallback = nullptr;
  unsigned cap = 0;
  std::optional<std::int64_t> ts;
  const proto::Frame* moved = nullptr;
};

class Engine {
 public:
  virtual ~Engine() = default;
  virtual std::string_view name() const = 0;
  // False while the rest of the chat is unreachable (a networked engine cut off
  // from its peers): the hub then refuses new hellos with cluster-unavailable.
  virtual bool available() const { return true; }
  // This node's name in its cluster (empty for a single node).
  virtual std::string node_name() const { return {}; }
  // For the control socket. Users on other nodes: node, nick, room.
  struct RemoteUser {
    std::string node, nick, room;
  };
  virtual std::vector<RemoteUser> remote_users() const { return {}; }
  // Kicks `nick` on the node holding it; false if no other live node does.
  virtual bool kick_elsewhere(std::string_view /*nick*/, std::string_view /*reason*/) {
    return false;
  }
  // `info` to every user of every other node; how many users that reaches.
  virtual std::size_t say_elsewhere(std::string_view /*message*/) { return 0; }

  // Nicks beyond this node. `key` is proto::nick_key(nick); the hub has already
  // checked its own sessions. `done(true)`: no other node holds it and it is now
  // this node's until release_nick().
  using ClaimDone = std::function<void(bool claimed)>;
  virtual void claim_nick(const std::string& key, ClaimDone done) = 0;
  virtual void release_nick(const std::string& key) = 0;

  // Room membership on this node, for cluster-wide `who` and `rooms`. A join
  // or leave comes with its announcement (the `join` or `leave` event for the
  // room's members elsewhere; native null: none), which an engine sends along
  // with the membership, as one message, instead of a publish().
  virtual void member_joined(const std::string& room, const std::string& nick,
                             const RoomEvent& announce) = 0;
  virtual void member_left(const std::string& room, const std::string& nick,
                           const RoomEvent& announce) = 0;
  // Members of `room` held by other nodes; room names and their member counts
  // on other nodes.
  virtual void remote_members(const std::string& room,
                              std::function<void(std::vector<std::string>)> done) = 0;
  virtual void remote_rooms(
      std::function<void(std::vector<std::pair<std::string, std::size_t>>)> done) = 0;

  // Delivery beyond this node: a room event to the room's members elsewhere, and
  // a DM to a nick no local session holds (`done(false)`: no node holds it).
  virtual void publish(const std::string& room, const RoomEvent& event) = 0;
  // The end of one loop iteration (the server calls it): an engine that gathers
  // publications sends them now. Anything else it sends goes after what it gathered.
  virtual void flush() {}
  virtual void direct(const std::string& to_key, const RoomEvent& event,
                      std::function<void(bool delivered)> done) = 0;

  // History. `remember` keeps a chat or emote line (its live frame, the emote's
  // fallback, when it was said); `replay` calls `send` with the room's newest
  // lines that fit in `max_bytes`, oldest first, in the form a reader with these
  // caps takes (history-marked; the fallback for readers without `emote`;
  // stamped for readers with `time`). `room_emptied`: the last member on this
  // node left (the memory engine forgets the room's history then).
  struct HistoryLimits {
    std::size_t lines = 0;  // 0: no history
    std::size_t bytes = 0;
  };
  virtual void set_history_limits(HistoryLimits limits) = 0;
  virtual void remember(const std::string& room, const proto::Frame& live,
                        const proto::Frame* fallback, std::int64_t ts) = 0;
  virtual void replay(const std::string& room, bool emote_cap, bool time_cap, std::size_t max_bytes,
                      const std::function<void(const proto::Frame&)>& send) = 0;
  virtual void room_emptied(const std::string& room) = 0;
  // History held in this process's memory (the memory budget counts it), and
  // the budget's last resort: drop the oldest half of the largest room's lines.
  virtual std::size_t local_history_bytes() const = 0;
  virtual bool shed_history() = 0;
};

}  // namespace chat::daemon
