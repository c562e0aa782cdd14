// floor-server: the least work a part-1 fan-out server can do, as the bench's floor.
//
// One epoll loop, no JSON library, no validation, no limits: it finds "type", "nick"
// and "message" by string search, builds each broadcast frame once by concatenation,
// appends it to every joined client's contiguous output buffer and sends each buffer
// with one send() per wake-up. Its CPU per delivery is what the kernel's loopback TCP
// costs on this machine plus a memcpy: chatd cannot go below it. Not a chat server to
// use: it trusts its input (the bench's) completely.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

#include "common/unique_fd.hpp"

namespace {

struct Client {
  chat::UniqueFd fd;
  std::string in;
  std::string out;
  std::size_t out_off = 0;
  std::string nick;
  bool joined = false;
  bool dirty = false;
  bool want_out = false;
};

std::string_view member(std::string_view obj, std::string_view quoted_key) {
  const auto k = obj.find(quoted_key);
  if (k == std::string_view::npos) {
    return {};
  }
  auto q = obj.find('"', k + quoted_key.size());
  if (q == std::string_view::npos) {
    return {};
  }
  ++q;
  auto e = q;
  while (e < obj.size() && obj[e] != '"') {
    e += obj[e] == '\\' ? 2 : 1;  // keep escapes as they are: the output is JSON too
  }
  return e <= obj.size() ? obj.substr(q, e - q) : std::string_view{};
}

class Floor {
 public:
  Floor(int listener, int epfd) : listener_(listener), epfd_(epfd) {}

  void run() {
    std::array<epoll_event, 1024> events{};
    while (true) {
      const int n = ::epoll_wait(epfd_, events.data(), static_cast<int>(events.size()), -1);
      if (n < 0 && errno != EINTR) {
        std::perror("epoll_wait");
        return;
      }
      for (int i = 0; i < n; ++i) {
        const int fd = events[i].data.fd;
        if (fd == listener_) {
          accept_all();
          continue;
        }
        if ((events[i].events & EPOLLOUT) != 0) {
          flush(fd);
        }
        if ((events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0) {
          read(fd);
        }
      }
      for (const int fd : dirty_) {
        clients_[fd].dirty = false;
        flush(fd);
      }
      dirty_.clear();
    }
  }

 private:
  void accept_all() {
    while (true) {
      const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        return;
      }
      if (static_cast<std::size_t>(fd) >= clients_.size()) {
        clients_.resize(static_cast<std::size_t>(fd) + 1);
      }
      // As chatd does: without it Nagle holds small writes back for the peer's ACK,
      // which saves segments (CPU) and costs latency, and the comparison would be unfair.
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      clients_[fd] = Client{};
      clients_[fd].fd.reset(fd);
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.fd = fd;
      ::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev);
    }
  }

  void read(int fd) {
    Client& c = clients_[fd];
    const ssize_t r = ::recv(fd, scratch_.data(), scratch_.size(), MSG_DONTWAIT);
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
      return;
    }
    if (r <= 0) {
      drop(fd);
      return;
    }
    c.in.append(scratch_.data(), static_cast<std::size_t>(r));
    std::size_t pos = 0;
    while (c.in.size() - pos >= 2) {
      const auto* p = reinterpret_cast<const unsigned char*>(c.in.data() + pos);
      const std::size_t len = (static_cast<std::size_t>(p[0]) << 8) | p[1];
      if (c.in.size() - pos - 2 < len) {
        break;
      }
      handle(fd, std::string_view(c.in.data() + pos + 2, len));
      if (!clients_[fd].fd) {
        return;
      }
      pos += 2 + len;
    }
    c.in.erase(0, pos);
  }

  void handle(int fd, std::string_view payload) {
    Client& c = clients_[fd];
    const auto type = member(payload, "\"type\"");
    if (type == "hello" && !c.joined) {
      c.nick = std::string(member(payload, "\"nick\""));
      c.joined = true;
      joined_.push_back(fd);
      broadcast(R"({"type":"join","nick":")" + c.nick + "\"}");
    } else if (type == "chat" && c.joined) {
      std::string body = R"({"type":"chat","nick":")";
      body += c.nick;
      body += R"(","message":")";
      body += member(payload, "\"message\"");
      body += "\"}";
      broadcast(body);
    }
  }

  void broadcast(const std::string& payload) {
    const char header[2] = {static_cast<char>((payload.size() >> 8) & 0xff),
                            static_cast<char>(payload.size() & 0xff)};
    for (const int to : joined_) {
      Client& r = clients_[to];
      r.out.append(header, 2);
      r.out.append(payload);
      if (!r.dirty) {
        r.dirty = true;
        dirty_.push_back(to);
      }
    }
  }

  void flush(int fd) {
    Client& c = clients_[fd];
    if (!c.fd) {
      return;
    }
    while (c.out_off < c.out.size()) {
      const ssize_t w = ::send(fd, c.out.data() + c.out_off, c.out.size() - c.out_off,
                               MSG_NOSIGNAL | MSG_DONTWAIT);
      if (w < 0) {
        if (errno == EAGAIN) {
          break;
        }
        drop(fd);
        return;
      }
      c.out_off += static_cast<std::size_t>(w);
    }
    if (c.out_off == c.out.size()) {
      c.out.clear();
      c.out_off = 0;
    }
    const bool want = !c.out.empty();
    if (want != c.want_out) {
      epoll_event ev{};
      ev.events = EPOLLIN | (want ? EPOLLOUT : 0U);
      ev.data.fd = fd;
      ::epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev);
      c.want_out = want;
    }
  }

  void drop(int fd) {
    Client& c = clients_[fd];
    ::epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
    c.fd.reset();
    c.out.clear();
    c.out_off = 0;
    if (c.joined) {
      c.joined = false;
      std::erase(joined_, fd);
      broadcast(R"({"type":"leave","nick":")" + c.nick + "\"}");
    }
  }

  int listener_;
  int epfd_;
  std::vector<Client> clients_;  // by fd
  std::vector<int> joined_;
  std::vector<int> dirty_;
  std::array<char, 65536> scratch_{};
};

}  // namespace

int main(int argc, char** argv) {
  std::uint16_t port = 0;
  CLI::App app{"floor-server: a protocol-minimal epoll fan-out, the bench's floor (127.0.0.1)"};
  app.add_option("port", port, "TCP port on 127.0.0.1 (0: a free one; prints port=N)");
  CLI11_PARSE(app, argc, argv);

  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
  chat::UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  const int one = 1;
  ::setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listener.get(), SOMAXCONN) != 0 ||
      ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::perror("floor-server: listen");
    return 71;
  }
  std::printf("port=%u\n", static_cast<unsigned>(ntohs(addr.sin_port)));
  std::fflush(stdout);
  chat::UniqueFd epfd(::epoll_create1(EPOLL_CLOEXEC));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = listener.get();
  ::epoll_ctl(epfd.get(), EPOLL_CTL_ADD, listener.get(), &ev);
  Floor(listener.get(), epfd.get()).run();
  return 0;
}
