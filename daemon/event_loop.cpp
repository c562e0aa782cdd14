// select() and epoll backends of EventLoop.
#include "daemon/event_loop.hpp"

#include <sys/epoll.h>
#include <sys/select.h>

#include <cerrno>
#include <unordered_map>
#include <vector>

#include "common/unique_fd.hpp"

namespace chat::daemon {
namespace {

struct Watch {
  unsigned interest = kNone;
  EventLoop::Handler handler;
  std::uint64_t generation = 0;
};

// Both backends keep their watches in a map keyed by fd. A handler may remove any
// fd (and a new connection may reuse the number), so dispatch checks the
// generation recorded at wait time before calling a handler.
class WatchTable {
 public:
  Watch* find(int fd) {
    const auto it = watches_.find(fd);
    return it == watches_.end() ? nullptr : &it->second;
  }
  Watch& insert(int fd, unsigned interest, EventLoop::Handler handler) {
    Watch& w = watches_[fd];
    w.interest = interest;
    w.handler = std::move(handler);
    w.generation = ++generation_;
    return w;
  }
  void erase(int fd) { watches_.erase(fd); }
  // Runs the handler if fd is still the same registration.
  void dispatch(int fd, std::uint64_t generation, unsigned ready) {
    Watch* w = find(fd);
    if (w == nullptr || w->generation != generation) {
      return;
    }
    // Copy: the handler may remove its own watch, destroying the std::function.
    const EventLoop::Handler handler = w->handler;
    handler(ready);
  }
  const std::unordered_map<int, Watch>& all() const { return watches_; }

 private:
  std::unordered_map<int, Watch> watches_;
  std::uint64_t generation_ = 0;
};

class SelectLoop final : public EventLoop {
 public:
  bool add(int fd, unsigned interest, Handler handler) override {
    if (fd < 0 || fd >= FD_SETSIZE) {
      return false;
    }
    table_.insert(fd, interest, std::move(handler));
    return true;
  }
  bool modify(int fd, unsigned interest) override {
    Watch* w = table_.find(fd);
    if (w == nullptr) {
      return false;
    }
    w->interest = interest;
    return true;
  }
  void remove(int fd) override { table_.erase(fd); }

  bool wait(std::chrono::milliseconds timeout) override {
    fd_set rd;
    fd_set wr;
    FD_ZERO(&rd);
    FD_ZERO(&wr);
    int max_fd = -1;
    for (const auto& [fd, w] : table_.all()) {
      if ((w.interest & kRead) != 0) {
        FD_SET(fd, &rd);
      }
      if ((w.interest & kWrite) != 0) {
        FD_SET(fd, &wr);
      }
      if (w.interest != kNone && fd > max_fd) {
        max_fd = fd;
      }
    }
    timeval tv{};
    timeval* tvp = nullptr;
    if (timeout.count() >= 0) {
      tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
      tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
      tvp = &tv;
    }
    const int n = ::select(max_fd + 1, &rd, &wr, nullptr, tvp);
    mark_woke();
    if (n < 0) {
      return errno == EINTR;
    }
    // Ready descriptors in fd order, as the course's loop walks them: the order
    // is fair and deterministic (walking the hash map served two clients ready
    // in one wake-up in hash order, so a hello written first could be handled
    // second).
    ready_.clear();
    for (int fd = 0; fd <= max_fd && static_cast<int>(ready_.size()) < n; ++fd) {
      unsigned ready = kNone;
      if (FD_ISSET(fd, &rd)) {
        ready |= kRead;
      }
      if (FD_ISSET(fd, &wr)) {
        ready |= kWrite;
      }
      if (ready != kNone) {
        if (const Watch* w = table_.find(fd)) {
          ready_.push_back({fd, w->generation, ready});
        }
      }
    }
    for (const auto& r : ready_) {
      table_.dispatch(r.fd, r.generation, r.ready);
    }
    return true;
  }
  std::string_view name() const override { return "select"; }
  int fd_limit() const override { return FD_SETSIZE; }

 private:
  struct Ready {
    int fd;
    std::uint64_t generation;
    unsigned ready;
  };
  WatchTable table_;
  std::vector<Ready> ready_;
};

class EpollLoop final : public EventLoop {
 public:
  explicit EpollLoop(UniqueFd epfd) : epfd_(std::move(epfd)) { events_.resize(1024); }

  bool add(int fd, unsigned interest, Handler handler) override {
    if (fd < 0) {
      return false;
    }
    epoll_event ev = make_event(fd, interest);
    if (::epoll_ctl(epfd_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
      return false;
    }
    table_.insert(fd, interest, std::move(handler));
    return true;
  }
  bool modify(int fd, unsigned interest) override {
    Watch* w = table_.find(fd);
    if (w == nullptr) {
      return false;
    }
    if (w->interest == interest) {
      return true;
    }
    epoll_event ev = make_event(fd, interest);
    if (::epoll_ctl(epfd_.get(), EPOLL_CTL_MOD, fd, &ev) != 0) {
      return false;
    }
    w->interest = interest;
    return true;
  }
  void remove(int fd) override {
    if (table_.find(fd) != nullptr) {
      ::epoll_ctl(epfd_.get(), EPOLL_CTL_DEL, fd, nullptr);
      table_.erase(fd);
    }
  }
  bool wait(std::chrono::milliseconds timeout) override {
    const int ms = timeout.count() < 0 ? -1 : static_cast<int>(timeout.count());
    const int n = ::epoll_wait(epfd_.get(), events_.data(), static_cast<int>(events_.size()), ms);
    mark_woke();
    if (n < 0) {
      return errno == EINTR;
    }
    // Snapshot generations first: a handler may remove and reuse fds.
    ready_.clear();
    for (int i = 0; i < n; ++i) {
      const int fd = events_[static_cast<std::size_t>(i)].data.fd;
      const std::uint32_t e = events_[static_cast<std::size_t>(i)].events;
      const Watch* w = table_.find(fd);
      if (w == nullptr) {
        continue;
      }
      unsigned ready = kNone;
      if ((e & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP)) != 0) {
        ready |= kRead;
      }
      if ((e & EPOLLOUT) != 0) {
        ready |= kWrite;
      }
      ready_.push_back({fd, w->generation, ready & (w->interest | kRead)});
    }
    for (const auto& r : ready_) {
      table_.dispatch(r.fd, r.generation, r.ready);
    }
    if (static_cast<std::size_t>(n) == events_.size() && events_.size() < 65536) {
      events_.resize(events_.size() * 2);
    }
    return true;
  }
  std::string_view name() const override { return "epoll"; }
  int fd_limit() const override { return 1 << 30; }

 private:
  static epoll_event make_event(int fd, unsigned interest) {
    epoll_event ev{};
    ev.data.fd = fd;
    if ((interest & kRead) != 0) {
      ev.events |= EPOLLIN | EPOLLRDHUP;
    }
    if ((interest & kWrite) != 0) {
      ev.events |= EPOLLOUT;
    }
    return ev;
  }
  struct Ready {
    int fd;
    std::uint64_t generation;
    unsigned ready;
  };
  UniqueFd epfd_;
  WatchTable table_;
  std::vector<epoll_event> events_;
  std::vector<Ready> ready_;
};

}  // namespace

bool EventLoop::run_once(std::chrono::milliseconds timeout) {
  if (!timers_.empty()) {
    const auto now = this->now();
    const auto next = timers_.begin()->first.first;
    // Rounded up, so a timer is not polled for in a spin of 0 ms waits.
    const auto until = next <= now ? std::chrono::milliseconds(0)
                                   : std::chrono::ceil<std::chrono::milliseconds>(next - now);
    if (timeout.count() < 0 || until < timeout) {
      timeout = until;
    }
  }
  if (!wait(timeout)) {
    return false;
  }
  run_timers();
  return true;
}

void EventLoop::run_timers() {
  if (timers_.empty()) {
    return;
  }
  // The timers due when the run starts, in time order. A callback may cancel one
  // of them (then it does not run) or add a timer for a time already past (it
  // runs on the next call, so a callback re-arming itself cannot make this loop).
  const auto now = this->now();
  due_.clear();
  for (auto it = timers_.begin(); it != timers_.end() && it->first.first <= now; ++it) {
    due_.push_back(it->first);
  }
  for (const auto& key : due_) {
    const auto it = timers_.find(key);
    if (it == timers_.end()) {
      continue;  // cancelled by an earlier callback
    }
    const TimerFn fn = std::move(it->second);
    timers_.erase(it);
    timer_at_.erase(key.second);
    fn();
  }
}

EventLoop::TimerId EventLoop::add_timer(Clock::time_point when, TimerFn fn) {
  const TimerId id = next_timer_++;
  timers_.emplace(std::make_pair(when, id), std::move(fn));
  timer_at_.emplace(id, when);
  return id;
}

bool EventLoop::cancel_timer(TimerId id) {
  const auto it = timer_at_.find(id);
  if (it == timer_at_.end()) {
    return false;
  }
  timers_.erase(std::make_pair(it->second, id));
  timer_at_.erase(it);
  return true;
}

std::unique_ptr<EventLoop> EventLoop::create(Backend backend) {
  if (backend == Backend::kEpoll) {
    UniqueFd epfd(::epoll_create1(EPOLL_CLOEXEC));
    if (!epfd) {
      return nullptr;  // errno says why
    }
    return std::make_unique<EpollLoop>(std::move(epfd));
  }
  return std::make_unique<SelectLoop>();
}

}  // namespace chat::daemon
