// The control socket inside chatd: chatctl's requests served from the event loop.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/unique_fd.hpp"
#include "daemon/event_loop.hpp"
#include "protocol/control.hpp"
#include "protocol/frame.hpp"

namespace chat::daemon {

struct UserInfo {
  std::string nick, peer, room;
  std::int64_t since_unix;
  std::uint64_t messages_in, messages_out, bytes_in, bytes_out, sendq_bytes;
  bool tls = false;       // connected through the TLS listener
  std::string node = {};  // --engine redis: the node holding the user
};

struct StatusInfo {
  std::string version;
  std::uint64_t uptime_s, clients, rooms;
  std::string event_loop;
  std::uint64_t max_clients, messages_in, messages_out, bytes_in, bytes_out;
  std::uint64_t memory_bytes, memory_budget;  // accounted now, and the budget (0: none)
  // Events counted instead of logged one by one.
  std::uint64_t protocol_errors, slow_consumers, refusals, budget_drops, stalls, floods;
  // Clients by transport (they add up to `clients`), and when the TLS
  // certificate in use expires (ISO 8601 UTC; empty without TLS).
  std::uint64_t tls_clients = 0, plain_clients = 0;
  std::string tls_cert_expires;
  std::uint64_t auth_failures = 0, auth_throttled = 0;  // logins refused (throttled: unhashed)
  std::uint64_t accounts = 0;                           // registered nicks
  std::uint64_t users = 0;  // clients that joined with a nick (`clients`: connections)
  // --engine redis: this node's name, and "ok" or "degraded" (Redis unreachable);
  // both empty with the memory engine.
  std::string node = {};
  std::string cluster = {};
  // The other live nodes and their users (as this node knows them).
  std::vector<std::pair<std::string, std::uint64_t>> nodes = {};
};

// The outcome of an account change: a control result code and a line for people.
struct AccountOutcome {
  std::string_view result;
  std::string message;
};

// What the control commands need from the chat server; implemented by chatd.
class ControlBackend {
 public:
  virtual ~ControlBackend() = default;
  virtual StatusInfo status() = 0;
  virtual std::vector<UserInfo> who() = 0;
  virtual bool kick(std::string_view nick, std::string_view reason) = 0;  // false: no such nick
  // Recipients; nullopt if the message cannot be sent (too long for one frame).
  virtual std::optional<std::size_t> say(std::string_view message) = 0;
  // Registered nicks. chatctl hashes; the daemon checks the hash string's shape
  // and stores it. The defaults answer that accounts are not supported.
  virtual AccountOutcome account_add(std::string_view nick, const std::string& hash);
  virtual AccountOutcome account_passwd(std::string_view nick, const std::string& hash);
  virtual AccountOutcome account_del(std::string_view nick);
  // Registered nicks as registered, sorted by key; never the hashes.
  virtual std::vector<std::string> account_list();
};

// What a control client may do, decided once from its credentials at accept.
enum class ControlAccess {
  kNone,   // refused at accept
  kRead,   // who, status, version, list-commands
  kAdmin,  // every command, kick and say included
};

// True for the commands a kRead client may run (the registry's access level).
bool is_read_only(const proto::ControlCommandSpec& command);

// Who sent a control request (for the handlers' log lines).
struct ControlCaller {
  uid_t uid = 0;
  pid_t pid = 0;
};

// chatd's side of one command: carries out a parsed, permitted request and
// returns the reply payload. One per registry entry (daemon/control_handlers.cpp).
using ControlHandler = std::string (*)(ControlBackend& backend,
                                       const proto::ControlRequest& request,
                                       const ControlCaller& caller);

// The handler of the command called `name`, or null.
ControlHandler control_handler(std::string_view name);

// Serves the control protocol (PROTOCOL.md "The control socket", docs/CONTROL.md)
// on a listening AF_UNIX socket. Everything is non-blocking and bounded per
// connection, so a slow, stuck or hostile control client never stalls the chat
// loop: input is at most one frame plus one read, output stops being produced
// while a reply is unread, and a connection must complete each request within
// kRequestTimeout of its accept or of its previous request, however it trickles
// bytes (an absolute deadline, not an idle timer).
//
// Lockout resistance: credentials are checked at accept, so a refused peer is
// answered and closed at once and never holds a slot; kMaxConnections slots
// are shared by everyone, and kRootReserve more are kept for uid 0 alone, so
// root's chatctl gets in while other clients hold every shared slot.
class ControlServer {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr auto kRequestTimeout = std::chrono::seconds(5);
  static constexpr std::size_t kMaxConnections = 16;
  static constexpr std::size_t kRootReserve = 4;
  // Replies are held back (the connection is not read) while this much is unsent.
  static constexpr std::size_t kOutputHighWater = std::size_t{256} * 1024;

  // Takes over `listening_fd` (a listening AF_UNIX stream socket, e.g. from
  // create_socket() or systemd's `ctl` fd) and registers it with `loop`.
  // Access (SO_PEERCRED and SO_PEERGROUPS at accept): uid 0, the daemon's own
  // effective uid and members of `admin_group` (primary or supplementary) may
  // run every command; members of `read_group` the read-only ones; everyone
  // else is answered `permission-denied` and closed.
  ControlServer(EventLoop& loop, ControlBackend& backend, UniqueFd listening_fd,
                std::optional<gid_t> admin_group, std::optional<gid_t> read_group = std::nullopt);

  // The access a peer with these credentials gets (uid, primary gid, and the
  // supplementary groups it had when it connected).
  ControlAccess access_for(uid_t uid, gid_t gid, const std::vector<gid_t>& groups) const;
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Creates a listening socket at `path`: the directory is created if missing
  // (mode 0755), a stale socket left by a crash (connect() refused) is removed,
  // a live one is an error, and the socket is chmod'ed 0660 whatever the umask.
  // Returns the fd, or an error message naming the path.
  // `mode` is the socket file's mode: 0660 by default; 0666 when access is
  // decided by credentials alone (a read group is configured).
  static std::variant<UniqueFd, std::string> create_socket(const std::string& path,
                                                           mode_t mode = 0660);

  // Removes `path` when the server is destroyed (use for sockets from
  // create_socket(), not for sockets systemd owns).
  void unlink_on_exit(std::string path) { unlink_path_ = std::move(path); }

  // Closes connections whose request deadline has passed and resumes a
  // paused accept. Call from the loop when next_deadline() has passed.
  void tick(Clock::time_point now);
  std::optional<Clock::time_point> next_deadline() const;

  std::size_t connection_count() const { return connections_.size(); }

 private:
  struct Connection {
    UniqueFd fd;
    proto::FrameDecoder input;
    std::string output;
    std::size_t output_sent = 0;
    uid_t uid = 0;
    pid_t pid = 0;
    ControlAccess access = ControlAccess::kNone;
    bool close_after_flush = false;
    Clock::time_point deadline;  // the next request must be complete by then
  };

  // Keeps one loop timer at next_deadline(), which then runs tick().
  void rearm();
  void on_accept();
  // Answers a refused peer with permission-denied and closes it.
  void refuse(UniqueFd fd, uid_t uid, pid_t pid, std::string_view why);
  std::size_t root_connections() const;
  void on_ready(int fd, unsigned ready);
  // Reads what is available; false if the connection was closed.
  bool read_input(Connection& c);
  // Handles buffered requests while output is below the high-water mark.
  void handle_requests(Connection& c);
  // Writes what the kernel takes; false if the connection was closed.
  bool write_output(Connection& c);
  void update_interest(Connection& c);
  void close_connection(int fd, std::string_view reason);
  void queue_reply(Connection& c, const std::string& payload);

  std::string execute(Connection& c, std::string_view payload);

  EventLoop& loop_;
  ControlBackend& backend_;
  UniqueFd listen_fd_;
  std::optional<gid_t> admin_group_;
  std::optional<gid_t> read_group_;
  std::string unlink_path_;
  std::map<int, std::unique_ptr<Connection>> connections_;
  EventLoop::TimerId timer_ = 0;
  std::optional<Clock::time_point> timer_at_;
  std::optional<Clock::time_point> accept_paused_until_;
};

}  // namespace chat::daemon
