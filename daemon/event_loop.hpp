// The event loop: fd readiness through select() (default) or epoll, and callbacks.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace chat::daemon {

enum Interest : unsigned { kNone = 0, kRead = 1, kWrite = 2 };

// Readiness of descriptors and one deadline facility for everything that runs
// on the loop (hello and close deadlines, the stall sweep, the control socket's
// request deadlines, the watchdog, STATUS= throttling): a timer is a time and a
// callback, run by run_once() once the time has come.
class EventLoop {
 public:
  // Called with the ready set (kRead and/or kWrite; errors and hang-ups report as
  // kRead so that the read path sees them).
  using Handler = std::function<void(unsigned ready)>;
  enum class Backend { kSelect, kEpoll };
  using Clock = std::chrono::steady_clock;
  using TimerId = std::uint64_t;  // never 0, never reused
  using TimerFn = std::function<void()>;

  // nullptr (errno set) if the backend cannot be set up (epoll_create1 failed).
  static std::unique_ptr<EventLoop> create(Backend backend);
  virtual ~EventLoop() = default;

  // Registers fd; false if the backend cannot watch it (select: fd >= FD_SETSIZE).
  virtual bool add(int fd, unsigned interest, Handler handler) = 0;
  // False if fd is not registered or the kernel refused the change (errno set).
  virtual bool modify(int fd, unsigned interest) = 0;
  // Safe to call from inside a handler, for any fd, including the one being handled.
  virtual void remove(int fd) = 0;
  // Waits until a descriptor is ready, the next timer is due, or `timeout` has
  // passed (negative: no limit but the timers), runs the handlers of ready fds,
  // then every timer whose time has come (in time order; a timer added by a
  // callback for a time already past runs on the next call). Returns false on an
  // unexpected failure of the wait itself.
  bool run_once(std::chrono::milliseconds timeout);
  virtual std::string_view name() const = 0;
  // Highest fd number + 1 the backend can watch.
  virtual int fd_limit() const = 0;

  // Runs `fn` once, at the first run_once() at or after `when`.
  TimerId add_timer(Clock::time_point when, TimerFn fn);
  // False if the timer already ran or was cancelled. Safe inside any callback.
  bool cancel_timer(TimerId id);
  std::size_t timer_count() const { return timers_.size(); }
  // The clock every timer is measured on (tests and the daemon fuzzer step a
  // fake one).
  void set_clock(std::function<Clock::time_point()> now) { clock_ = std::move(now); }
  Clock::time_point now() const { return clock_ ? clock_() : Clock::now(); }
  // When the current iteration's wait returned: the time of every decision made
  // in its handlers (reading the clock per packet or per recipient costs more
  // than the work).
  Clock::time_point woke() const { return woke_; }

 protected:
  // Waits up to `timeout` (negative: forever) and runs the handlers of ready fds.
  // Calls mark_woke() right after the wait, before any handler.
  virtual bool wait(std::chrono::milliseconds timeout) = 0;
  void mark_woke() { woke_ = now(); }

 private:
  void run_timers();

  std::map<std::pair<Clock::time_point, TimerId>, TimerFn> timers_;
  std::unordered_map<TimerId, Clock::time_point> timer_at_;
  std::vector<std::pair<Clock::time_point, TimerId>> due_;
  TimerId next_timer_ = 1;
  std::function<Clock::time_point()> clock_;
  Clock::time_point woke_ = Clock::now();
};

}  // namespace chat::daemon
