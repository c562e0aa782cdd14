// The chat server: accepts connections, moves bytes between sessions and the hub.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/unique_fd.hpp"
#include "daemon/event_loop.hpp"
#include "daemon/hub.hpp"
#include "daemon/session.hpp"

namespace chat::daemon {

struct Limits {
  std::size_t max_clients = 0;  // 0: as many as the descriptors allow
  std::chrono::milliseconds hello_timeout{10000};
  std::size_t sendq_limit = std::size_t{4} * 1024 * 1024;
  std::size_t history = 20;
  double flood_rate = 50.0;         // packets per second per connection; 0 turns it off
  double flood_burst = 200.0;       // packets a connection may send at once
  std::size_t max_per_address = 0;  // connections from one address; 0: no limit
};

struct Totals {
  std::uint64_t messages_in = 0;
  std::uint64_t messages_out = 0;
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
};

class Server final : public Outbox {
 public:
  using Clock = std::chrono::steady_clock;
  // Extra work the loop owner wants on each iteration (control socket, watchdog).
  using Tick = std::function<std::optional<Clock::time_point>(Clock::time_point now)>;

  Server(EventLoop& loop, std::vector<UniqueFd> listeners, Limits limits);
  ~Server() override;
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Runs until stop() and the shutdown drain finish.
  void run();
  // Graceful shutdown: stop accepting, tell everyone, flush (bounded), close.
  void stop();
  // Applies new limits (SIGHUP); the effective client limit stays within the fds.
  void set_limits(Limits limits);
  void set_tick(Tick tick) { tick_ = std::move(tick); }
  void set_on_clients_changed(std::function<void(std::size_t)> fn) {
    on_clients_changed_ = std::move(fn);
  }

  // Outbox
  void send(SessionId id, const Frame& frame) override;
  void close(SessionId id, std::string_view reason) override;

  Hub& hub() { return hub_; }
  const Hub& hub() const { return hub_; }
  const Limits& limits() const { return limits_; }
  std::size_t effective_max_clients() const { return max_clients_; }
  std::size_t client_count() const { return sessions_.size() - rejecting(); }
  const Totals& totals() const { return totals_; }
  std::chrono::seconds uptime() const;
  const Session* session(SessionId id) const;

 private:
  std::size_t rejecting() const { return rejecting_; }
  void on_listener(int fd);
  void accept_one(UniqueFd client);
  bool over_address_limit(int fd) const;
  void reject_full(UniqueFd client, std::string_view message);
  bool take_token(Session& s, Clock::time_point now);
  void on_session(SessionId id, unsigned ready);
  void process_input(Session& s);
  void mark_dirty(Session& s);
  void update_interest(Session& s);
  void begin_drain(Session& s);
  void end_session(Session& s, std::string_view reason);
  void flush_dirty();
  void handle_overflows();
  void check_timers(Clock::time_point now);
  void reap();
  std::chrono::milliseconds next_timeout(Clock::time_point now) const;
  std::size_t compute_max_clients(std::size_t requested) const;

  EventLoop& loop_;
  std::vector<UniqueFd> listeners_;
  Limits limits_;
  std::size_t max_clients_ = 0;
  Hub hub_;
  std::unordered_map<SessionId, std::unique_ptr<Session>> sessions_;
  std::unordered_map<std::string, std::size_t> per_address_;
  SessionId next_id_ = 1;
  std::size_t rejecting_ = 0;  // server-full sessions still flushing their error
  std::vector<SessionId> dirty_;
  std::vector<SessionId> pending_input_;
  std::vector<SessionId> overflowed_;
  std::vector<SessionId> dead_;
  std::deque<std::pair<Clock::time_point, SessionId>> hello_deadlines_;
  std::deque<std::pair<Clock::time_point, SessionId>> close_deadlines_;
  UniqueFd reserve_fd_;
  Totals totals_;
  Clock::time_point started_;
  bool stopping_ = false;
  Clock::time_point stop_deadline_{};
  std::size_t reported_clients_ = SIZE_MAX;
  Tick tick_;
  std::function<void(std::size_t)> on_clients_changed_;
};

}  // namespace chat::daemon
