// The event loop: fd readiness through select() (default) or epoll, and callbacks.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string_view>

namespace chat::daemon {

enum Interest : unsigned { kNone = 0, kRead = 1, kWrite = 2 };

class EventLoop {
 public:
  // Called with the ready set (kRead and/or kWrite; errors and hang-ups report as
  // kRead so that the read path sees them).
  using Handler = std::function<void(unsigned ready)>;
  enum class Backend { kSelect, kEpoll };

  // nullptr (errno set) if the backend cannot be set up (epoll_create1 failed).
  static std::unique_ptr<EventLoop> create(Backend backend);
  virtual ~EventLoop() = default;

  // Registers fd; false if the backend cannot watch it (select: fd >= FD_SETSIZE).
  virtual bool add(int fd, unsigned interest, Handler handler) = 0;
  // False if fd is not registered or the kernel refused the change (errno set).
  virtual bool modify(int fd, unsigned interest) = 0;
  // Safe to call from inside a handler, for any fd, including the one being handled.
  virtual void remove(int fd) = 0;
  // Waits up to `timeout` (negative: forever) and runs the handlers of ready fds.
  // Returns false on an unexpected failure of the wait itself.
  virtual bool run_once(std::chrono::milliseconds timeout) = 0;
  virtual std::string_view name() const = 0;
  // Highest fd number + 1 the backend can watch.
  virtual int fd_limit() const = 0;
};

}  // namespace chat::daemon
