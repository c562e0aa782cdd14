// The Redis engine: several chatd nodes sharing one redis-server act as one chat
// (docs/CLUSTER.md). Nicks are claimed in Redis for as long as the owning node's
// heartbeat key lives; each node's members are a hash in Redis and a cache in
// every other node; room events travel once per event on one channel that every
// node subscribes to; DMs go to the owning node's own channel; history is a list
// per room in Redis, mirrored in each node so a replay stays synchronous.
//
// Everything runs on the daemon's event loop through two hiredis connections
// (commands, and the subscription). When Redis is unreachable the node keeps
// serving its own clients ("degraded"), refuses new hellos, and reconnects with
// a capped backoff, then re-asserts its node key, members and nicks.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "daemon/engine.hpp"
#include "daemon/event_loop.hpp"
#include "daemon/memory_engine.hpp"
#include "daemon/redis_loop.hpp"

namespace chat::daemon {

class Hub;

struct RedisEngineConfig {
  RedisAddress address;
  std::string password;  // empty: no AUTH
  std::string node;      // this node's name, unique in the cluster
  std::chrono::milliseconds presence_ttl{15000};
  std::chrono::milliseconds connect_timeout{2000};
  // History as the hub will set it (the mirror loads before the hub exists).
  Engine::HistoryLimits history;
  // How long a room's history list outlives its last line in Redis.
  std::chrono::milliseconds history_ttl{std::chrono::hours(7 * 24)};
};

// One message between nodes (and one line of history in Redis), encoded as
// netstrings: "<len>:<bytes>," per field, so any bytes survive and a damaged one
// is refused whole. Version c2 (docs/CLUSTER.md); c1, the first slice's, is still
// read (history lists it wrote).
struct Envelope {
  std::string origin;  // the node that sent it
  std::string kind;    // ev, join, part, dm, reset, line
  std::string room;    // the room (dm: the recipient's nick key)
  std::string nick;
  unsigned cap = 0;
  std::optional<std::int64_t> ts;
  std::string native;  // payloads (no length prefix)
  std::string fallback;
  std::string moved;      // a leave caused by enter: the form for `rooms` + `moves`
  std::uint64_t seq = 0;  // a history line's number, given by Redis (0: none)
  std::string encode() const;
  // Every field but the last, `seq`, which the batch script appends.
  std::string encode_unsequenced() const;
};

// A received envelope, read in place: its fields point into the message, which
// must outlive it (the receive path copies nothing before it makes the frames).
struct EnvelopeView {
  std::string_view origin;
  std::string_view kind;
  std::string_view room;
  std::string_view nick;
  unsigned cap = 0;
  std::optional<std::int64_t> ts;
  std::string_view native;
  std::string_view fallback;
  std::string_view moved;
  std::uint64_t seq = 0;
  static std::optional<EnvelopeView> decode(std::string_view bytes);
};

class RedisEngine final : public Engine {
 public:
  RedisEngine(EventLoop& loop, RedisEngineConfig config);
  ~RedisEngine() override;
  RedisEngine(const RedisEngine&) = delete;
  RedisEngine& operator=(const RedisEngine&) = delete;

  // Where events from other nodes go (before it: nowhere).
  void attach(Hub* hub) { hub_ = hub; }
  // The first connection attempt (then reconnects on its own).
  void start();
  // A clean stop (after the server's drain): flushes what is queued (the
  // users' leaves), removes this node's records, and waits for Redis to confirm,
  // running `loop` for at most `bound`.
  void leave_cluster(std::chrono::milliseconds bound);
  // Called when the cluster becomes reachable or unreachable.
  void set_on_state_change(std::function<void()> fn) { on_state_change_ = std::move(fn); }
  const std::string& node() const { return config_.node; }
  // Other live nodes (as this node knows them) and their users.
  std::map<std::string, std::size_t> remote_nodes() const;

  // A message from the subscription (one envelope or a batch). Public so that the
  // daemon fuzzer can hand it hostile ones.
  void on_message(std::string_view channel, std::string_view payload);

  std::string_view name() const override { return "redis"; }
  bool available() const override { return up_; }
  std::string node_name() const override { return config_.node; }
  std::vector<RemoteUser> remote_users() const override;
  bool kick_elsewhere(std::string_view nick, std::string_view reason) override;
  std::size_t say_elsewhere(std::string_view message) override;
  void claim_nick(const std::string& key, ClaimDone done) override;
  void release_nick(const std::string& key) override;
  void member_joined(const std::string& room, const std::string& nick,
                     const RoomEvent& announce) override;
  void member_left(const std::string& room, const std::string& nick,
                   const RoomEvent& announce) override;
  void remote_members(const std::string& room,
                      std::function<void(std::vector<std::string>)> done) override;
  void remote_rooms(
      std::function<void(std::vector<std::pair<std::string, std::size_t>>)> done) override;
  void publish(const std::string& room, const RoomEvent& event) override;
  void flush() override;
  void direct(const std::string& to_key, const RoomEvent& event,
              std::function<void(bool delivered)> done) override;
  void set_history_limits(HistoryLimits limits) override;
  void remember(const std::string& room, const proto::Frame& live, const proto::Frame* fallback,
                std::int64_t ts) override;
  void replay(const std::string& room, bool emote_cap, bool time_cap, std::size_t max_bytes,
              const std::function<void(const proto::Frame&)>& send) override;
  void room_emptied(const std::string& room) override;
  std::size_t local_history_bytes() const override { return mirror_.local_history_bytes(); }
  bool shed_history() override { return mirror_.shed_history(); }

 private:
  void connect();
  void on_connection(bool up, const std::string& why);
  void assert_presence();  // both connections up: (re)assert everything
  void went_down(const std::string& why);
  void schedule_reconnect();
  void heartbeat();
  void on_envelope(std::string_view payload);
  const std::string& cached_room_key(const std::string& room);
  void on_remote_members(const std::string& node, std::map<std::string, std::string> members);
  void subscribed();  // the subscription is confirmed: load what others hold
  void load_history(const struct redisReply* reply);
  struct MemberEvent {
    std::string node, nick, room;
    bool joined = false;  // else parted
  };
  static void apply_member_event(std::map<std::string, std::map<std::string, std::string>>& nodes,
                                 const MemberEvent& e);
  // A line for the mirror: this node's own (seq 0) or another's, numbered.
  void mirror_line(const std::string& room_key, const proto::Frame& native,
                   const proto::Frame* fallback, std::int64_t ts, std::uint64_t seq);
  void reap(const std::string& dead);
  void bad_input(std::string_view what);
  bool linked() const;
  using ReplyFn = std::function<void(const struct redisReply*)>;
  bool command(const std::vector<std::string>& argv, ReplyFn done = {});
  // A Lua script by EVALSHA once Redis has loaded it (else by EVAL); `args` are
  // EVAL's: the number of keys, the keys, the arguments. Like command().
  bool eval(const char* script, std::vector<std::string> args, ReplyFn done = {});
  // A script whose caller waits for a yes or no: `answer(yes(reply))`, or
  // `answer(false)` if it cannot be sent (at once) or the connection goes
  // away first (on the loop's next turn, once the engine knows it is down).
  void ask(const char* script, std::vector<std::string> args,
           std::function<bool(const struct redisReply*)> yes, std::function<void(bool)> answer);
  // Sends `argv` on the command connection; `on_reply` gets the reply or null.
  // An EVALSHA answered NOSCRIPT goes again as EVAL with `script`'s text.
  bool send(std::shared_ptr<std::vector<std::string>> argv, const char* script, ReplyFn on_reply);
  std::shared_ptr<std::vector<std::string>> script_argv(const char* script,
                                                        std::vector<std::string> args) const;
  // Runs `fn` on the loop's next turn, if the engine still exists.
  void defer(std::function<void()> fn);
  std::string key(std::string_view kind, std::string_view name) const;
  // An envelope from this node carrying `event`'s frames (none if its native is null).
  Envelope envelope(std::string_view kind, const std::string& room, const std::string& nick,
                    const RoomEvent& event) const;

  EventLoop& loop_;
  RedisEngineConfig config_;
  Hub* hub_ = nullptr;
  std::unique_ptr<RedisConnection> cmd_;
  std::unique_ptr<RedisConnection> sub_;
  int connections_up_ = 0;
  bool up_ = false;               // everything asserted: hellos are taken
  bool was_up_ = false;           // up at least once (clients were told it went down)
  bool told_down_ = false;        // clients got the "unreachable" info
  std::uint64_t generation_ = 0;  // bumped per connection attempt; stale replies ignored
  std::chrono::milliseconds backoff_{100};
  EventLoop::TimerId reconnect_timer_ = 0;
  EventLoop::TimerId heartbeat_timer_ = 0;
  bool heartbeat_pending_ = false;  // the last refresh has not been answered yet
  std::function<void()> on_state_change_;

  // This node's nick keys and members (nick -> room), re-asserted on reconnect.
  std::set<std::string> nicks_;
  std::map<std::string, std::string> members_;
  // Other nodes' members: node -> nick -> room.
  std::map<std::string, std::map<std::string, std::string>> remote_;
  // The members load at (re)connect: joins and parts that arrive meanwhile,
  // applied again to the loaded lists.
  bool loading_members_ = false;
  std::vector<MemberEvent> member_events_;
  // Another node's reset (it reconnected): its list is read again, and its joins
  // and parts that arrive meanwhile are applied again to what is read. `asked`:
  // reads outstanding; the events are kept from the first one's request on.
  struct NodeReload {
    int asked = 0;
    std::vector<MemberEvent> events;
  };
  std::map<std::string, NodeReload> node_reloads_;
  HistoryLimits limits_;
  MemoryEngine mirror_;  // history by room key, Redis's lists as this node saw them
  // The history load at (re)connect: lines that arrive meanwhile are mirrored
  // and kept here too, to be put back after the loaded lists (the loaded
  // sequence number tells which ones the lists already hold).
  struct PendingLine {
    std::string room_key;
    proto::Frame native;
    std::optional<proto::Frame> fallback;
    std::int64_t ts = 0;
    std::uint64_t seq = 0;  // 0: this node's own line
  };
  bool loading_ = false;
  std::vector<PendingLine> pending_;
  std::uint64_t history_seq_ = 0;  // the newest numbered line in the mirror
  // Room events of this loop iteration, published by flush() as one batch.
  struct Batched {
    std::string room_key;  // empty: not a line (no history)
    std::string envelope;
  };
  std::vector<Batched> batch_;
  std::size_t batch_bytes_ = 0;
  std::int64_t batch_ts_ = 0;                               // the newest line's time
  std::unordered_map<std::string, std::string> room_keys_;  // room name -> proto::room_key
  std::map<const char*, std::string> shas_;                 // script text -> its SHA1, once loaded
  std::uint64_t bad_inputs_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace chat::daemon
