// The chat server: accepts connections, moves bytes between sessions and the hub.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/unique_fd.hpp"
#include "daemon/accounts.hpp"
#include "daemon/defaults.hpp"
#include "daemon/event_loop.hpp"
#include "daemon/hub.hpp"
#include "daemon/session.hpp"
#include "daemon/slot_map.hpp"
#include "daemon/tls.hpp"
#include "daemon/verifier.hpp"

namespace chat::daemon {

struct Limits {
  std::size_t max_clients = 0;  // 0: as many as the descriptors allow
  std::chrono::milliseconds hello_timeout = defaults::to_ms(defaults::kHelloTimeoutSeconds);
  std::size_t sendq_limit = defaults::kSendqLimit;
  std::size_t history = defaults::kHistoryLines;
  std::size_t history_bytes = defaults::kHistoryBytes;  // per room
  double flood_rate = defaults::kFloodRate;             // packets per second per connection; 0: off
  double flood_burst = defaults::kFloodBurst;           // packets a connection may send at once
  double flood_bytes_rate = defaults::kFloodBytesRate;  // bytes per second; 0: off
  double flood_bytes_burst = defaults::kFloodBytesBurst;   // bytes at once
  std::size_t max_per_address = defaults::kMaxPerAddress;  // per IP (IPv6: /64); 0: no limit
  // Queued output + history + unparsed input, over all sessions; past it the
  // sessions holding most are dropped. 0 turns it off.
  std::size_t memory_budget = defaults::kMemoryBudget;
  // A session whose queued output makes no progress for this long is dropped; 0: never.
  std::chrono::milliseconds stall_timeout = defaults::to_ms(defaults::kStallTimeoutSeconds);
  bool require_accounts = false;           // only registered nicks may join
  bool allow_plaintext_passwords = false;  // check passwords sent without TLS
};

// What the server counts besides traffic (shown by `chatctl status`).
struct Counters {
  std::uint64_t slow_consumers = 0;  // dropped at the send-queue limit
  std::uint64_t refusals = 0;        // connections refused: server full, per-address limit
  std::uint64_t budget_drops = 0;    // sessions dropped to keep within the memory budget
  std::uint64_t stalls = 0;          // sessions dropped after --stall-timeout without progress
  std::uint64_t floods = 0;          // sessions closed for sending too fast
};

struct Totals {
  std::uint64_t messages_in = 0;
  std::uint64_t messages_out = 0;
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
};

class Server final : public Outbox, public Authenticator {
 public:
  using Clock = EventLoop::Clock;

  // `engine`: the rest of the chat (not owned; null: the memory engine).
  Server(EventLoop& loop, std::vector<UniqueFd> listeners, Limits limits, Engine* engine = nullptr);
  ~Server() override;
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Runs until stop() and the shutdown drain finish.
  void run();
  // One loop iteration: wait for readiness (at most until the loop's next timer,
  // and at most `max_wait` if given), handle it and the due timers, flush, reap.
  // False when the server has finished (stopped and drained) or the wait itself
  // failed.
  bool step(std::optional<std::chrono::milliseconds> max_wait);
  // Takes a connected socket as a new client, as if accepted (tests, fuzzing).
  void adopt(UniqueFd client);
  // TLS listeners, served beside the plain ones with `context`; false (errno
  // set) if the loop cannot watch one.
  bool add_tls_listeners(std::vector<UniqueFd> listeners, TlsContext context);
  // A new certificate (SIGHUP) for connections accepted from now on; sessions
  // keep the context they started with.
  void set_tls_context(TlsContext context);
  // nullptr without TLS listeners.
  const TlsContext* tls_context() const { return tls_ ? &*tls_ : nullptr; }
  // Clients on TLS (client_count() counts them too).
  std::size_t tls_client_count() const { return tls_clients_; }
  // The loop's clock (EventLoop::set_clock): every deadline is measured on it.
  Clock::time_point now() const { return loop_.now(); }
  // Every session, for invariant checks.
  template <typename F>
  void for_each_session(F&& f) const {
    for (const auto& [id, s] : sessions_) {
      f(*s);
    }
  }
  std::size_t input_bytes() const { return input_bytes_; }
  // Graceful shutdown: stop accepting, tell everyone, flush (bounded), close.
  void stop();
  // Applies new limits (SIGHUP); the effective client limit stays within the fds.
  void set_limits(Limits limits);
  // Called at the end of an iteration in which the number of clients or of rooms
  // changed (STATUS= reports both).
  void set_on_census_changed(std::function<void()> fn) { on_census_changed_ = std::move(fn); }

  // Outbox
  void send(SessionId id, const Frame& frame) override;
  void close(SessionId id, std::string_view reason) override;

  // Authenticator: accounts from the store, checks on the verifier's thread.
  bool registered(std::string_view nick) const override;
  Start start_verify(SessionId id, std::string_view nick, std::string password) override;
  // The registered nicks (replaced whole on SIGHUP; changed by chatctl account).
  AccountStore& accounts() { return accounts_; }
  void set_accounts(AccountStore accounts) { accounts_ = std::move(accounts); }
  // Tests: replaces the password check (e.g. a slow or counting one).
  void set_verifier(std::unique_ptr<Verifier> verifier);
  std::size_t verifications_outstanding() const { return verifier_->outstanding(); }

  Hub& hub() { return hub_; }
  const Hub& hub() const { return hub_; }
  const Limits& limits() const { return limits_; }
  std::size_t effective_max_clients() const { return max_clients_; }
  std::size_t client_count() const { return sessions_.size() - rejecting(); }
  const Totals& totals() const { return totals_; }
  const Counters& counters() const { return counters_; }
  // Bytes the memory budget accounts now: live frames (queued and history) and
  // unparsed input.
  std::size_t accounted_bytes() const;
  std::chrono::seconds uptime() const;
  const Session* session(SessionId id) const;

 private:
  std::size_t rejecting() const { return rejecting_; }
  void on_listener(int fd, bool tls);
  void accept_one(UniqueFd client, bool tls = false);
  void note_tls_pending(Session& s);
  bool over_address_limit(int fd) const;
  void reject_full(UniqueFd client, std::string_view message, bool tls = false);
  bool take_tokens(Session& s, std::size_t bytes, Clock::time_point now);
  void account_input(Session& s);
  void enforce_budget();
  void check_stalls(Clock::time_point now);
  void give_back_memory();
  void drop(Session& s, std::string_view reason);
  void on_session(SessionId id, unsigned ready);
  void on_verified();
  void watch_verifier();
  // Refills `address`'s failed-login bucket; the tokens it has now.
  double auth_tokens(const std::string& address, Clock::time_point now);
  void process_input(Session& s);
  void mark_dirty(Session& s);
  void update_interest(Session& s);
  // The server's side of the session transitions: deadline and flush lists.
  void begin_close(Session& s, Clock::time_point deadline);
  void bury(Session& s);
  void end_session(Session& s, std::string_view reason);
  void flush_dirty();
  void handle_overflows();
  // The session's hello deadline, from its accept and the current hello timeout.
  void arm_hello(Session& s);
  // The stall sweep, once a second.
  void arm_sweep();
  void reap();
  std::size_t compute_max_clients(std::size_t requested) const;

  EventLoop& loop_;
  std::vector<UniqueFd> listeners_;
  std::vector<UniqueFd> tls_listeners_;
  std::optional<TlsContext> tls_;
  std::size_t tls_clients_ = 0;
  // TLS sessions with decrypted input inside OpenSSL, to read without waiting
  // for the socket (which may never become readable for it).
  std::vector<SessionId> tls_pending_;
  Limits limits_;
  std::size_t max_clients_ = 0;
  Hub hub_;
  SlotMap<std::unique_ptr<Session>> sessions_;  // owns the ids
  std::unordered_map<std::string, std::size_t> per_address_;
  std::size_t rejecting_ = 0;  // server-full sessions still flushing their error
  std::vector<SessionId> dirty_;
  std::vector<SessionId> pending_input_;
  struct Overflow {
    SessionId id;
    std::string reason;
  };
  std::vector<Overflow> overflowed_;  // dropped inside a broadcast; the hub hears after it
  std::vector<SessionId> dead_;
  UniqueFd reserve_fd_;
  Totals totals_;
  Counters counters_;
  std::size_t input_bytes_ = 0;  // sum of accounted_input over sessions
  std::size_t peak_since_trim_ = 0;
  EventLoop::TimerId sweep_timer_ = 0;
  Clock::time_point started_;
  bool stopping_ = false;
  EventLoop::TimerId stop_timer_ = 0;
  bool drain_expired_ = false;  // the shutdown drain's time is up
  std::size_t reported_clients_ = SIZE_MAX;
  std::size_t reported_rooms_ = SIZE_MAX;
  std::function<void()> on_census_changed_;
  AccountStore accounts_;
  std::unique_ptr<Verifier> verifier_;
  struct AuthBucket {
    double tokens = defaults::kAuthFailureBurst;
    Clock::time_point refilled{};
  };
  std::unordered_map<std::string, AuthBucket> auth_buckets_;  // per address key
  std::unordered_map<SessionId, std::string> verifying_;      // session -> its address key
};

}  // namespace chat::daemon
