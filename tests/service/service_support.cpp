// Service-suite helpers: temp files, test-bound sockets, notify datagrams, an IPv6-capable client.
#include "tests/service/service_support.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "tests/integration/subprocess.hpp"

namespace chat::test::svc {
namespace {

using Clock = std::chrono::steady_clock;

int ms_left(Clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(left);
}

// Fills `ss` for an IPv4 or IPv6 literal; false if it is neither.
bool make_inet_address(const std::string& address, std::uint16_t port, sockaddr_storage& ss,
                       socklen_t& len) {
  std::memset(&ss, 0, sizeof ss);
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  if (::inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    len = sizeof(sockaddr_in);
    return true;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (::inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    len = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

bool make_unix(const std::string& path, sockaddr_un& un) {
  if (path.size() >= sizeof un.sun_path) {
    return false;
  }
  std::memset(&un, 0, sizeof un);
  un.sun_family = AF_UNIX;
  std::memcpy(un.sun_path, path.c_str(), path.size() + 1);
  return true;
}

}  // namespace

TempDir::TempDir() {
  char tmpl[] = "/tmp/chatd-svc-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) {
    throw std::runtime_error(std::string("mkdtemp: ") + std::strerror(errno));
  }
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::write(const std::string& name, const std::string& text) const {
  const std::string p = file(name);
  // Written to a new file and renamed over the old one, so chatd never reads half a file.
  const std::string tmp = p + ".new";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
  }
  std::filesystem::rename(tmp, p);
  return p;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

Listener listen_tcp(const std::string& address) {
  Listener l;
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (!make_inet_address(address, 0, ss, len)) {
    return l;
  }
  UniqueFd fd(::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) {
    return l;
  }
  if (ss.ss_family == AF_INET6) {
    const int one = 1;
    ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  }
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0 ||
      ::listen(fd.get(), 1024) != 0) {
    return l;
  }
  len = sizeof ss;
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return l;
  }
  l.port = ntohs(ss.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&ss)->sin_port
                                         : reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  l.fd = std::move(fd);
  return l;
}

UniqueFd listen_unix(const std::string& path) {
  sockaddr_un un{};
  if (!make_unix(path, un)) {
    return {};
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd || ::bind(fd.get(), reinterpret_cast<sockaddr*>(&un), sizeof un) != 0 ||
      ::listen(fd.get(), 16) != 0) {
    return {};
  }
  return fd;
}

std::uint16_t free_port() {
  Listener l = listen_tcp("127.0.0.1");
  return l.port;  // closed on return; nothing was accepted, so no TIME_WAIT holds it
}

Conn Conn::connect(const std::string& address, std::uint16_t port) {
  Conn c;
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (!make_inet_address(address, port, ss, len)) {
    return c;
  }
  UniqueFd fd(::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd || ::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    return c;
  }
  ::fcntl(fd.get(), F_SETFL, ::fcntl(fd.get(), F_GETFL) | O_NONBLOCK);
  c.fd_ = std::move(fd);
  return c;
}

bool Conn::send_packet(std::string_view payload) {
  const std::string bytes = frame(payload);
  std::string_view rest(bytes);
  const auto deadline = Clock::now() + kPatience;
  while (!rest.empty()) {
    const ssize_t n = ::send(fd_.get(), rest.data(), rest.size(), MSG_NOSIGNAL);
    if (n > 0) {
      rest.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      return false;
    }
    pollfd p{fd_.get(), POLLOUT, 0};
    if (::poll(&p, 1, ms_left(deadline)) <= 0 && Clock::now() >= deadline) {
      return false;
    }
  }
  return true;
}

std::optional<Packet> Conn::recv(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    if (in_.size() >= 2) {
      const std::size_t n = (static_cast<std::size_t>(static_cast<unsigned char>(in_[0])) << 8) |
                            static_cast<unsigned char>(in_[1]);
      if (n > 0 && in_.size() >= 2 + n) {
        Packet p = Packet::parse(std::string_view(in_).substr(2, n));
        in_.erase(0, 2 + n);
        return p;
      }
    }
    pollfd p{fd_.get(), POLLIN, 0};
    if (::poll(&p, 1, ms_left(deadline)) <= 0) {
      if (Clock::now() >= deadline) {
        return std::nullopt;
      }
      continue;
    }
    char buf[65536];
    const ssize_t got = ::recv(fd_.get(), buf, sizeof buf, 0);
    if (got > 0) {
      in_.append(buf, static_cast<std::size_t>(got));
    } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
      return std::nullopt;
    }
  }
}

NotifySocket::NotifySocket(std::string path) : path_(std::move(path)) {
  sockaddr_un un{};
  if (!make_unix(path_, un)) {
    return;
  }
  fd_.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (fd_ && ::bind(fd_.get(), reinterpret_cast<sockaddr*>(&un), sizeof un) != 0) {
    fd_.reset();
  }
}

bool NotifySocket::wait_line(const std::string& line, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    char buf[4096];
    const ssize_t n = ::recv(fd_.get(), buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) {
      std::istringstream lines(std::string(buf, static_cast<std::size_t>(n)));
      for (std::string l; std::getline(lines, l);) {
        if (l == line) {
          return true;
        }
      }
      continue;
    }
    if (Clock::now() >= deadline) {
      return false;
    }
    pollfd p{fd_.get(), POLLIN, 0};
    ::poll(&p, 1, std::min(ms_left(deadline), 100));
  }
}

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!done()) {
    if (Clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

std::vector<std::string> notification_lines(ChatdProcess& chatd) {
  std::vector<std::string> out;
  for (const auto& datagram : chatd.notifications()) {
    std::istringstream lines(datagram);
    for (std::string l; std::getline(lines, l);) {
      out.push_back(l);
    }
  }
  return out;
}

std::optional<long> status_client_count(const std::string& line) {
  constexpr std::string_view kPrefix = "STATUS=";
  if (line.rfind(kPrefix, 0) != 0) {
    return std::nullopt;
  }
  const std::size_t digits = line.find_first_of("0123456789", kPrefix.size());
  if (digits == std::string::npos) {
    return std::nullopt;
  }
  return std::strtol(line.c_str() + digits, nullptr, 10);
}

::testing::AssertionResult next_raw(TestClient& c, const std::string& raw,
                                    std::chrono::milliseconds timeout) {
  auto r = c.recv(timeout);
  if (r.status != TestClient::Status::kPacket) {
    return ::testing::AssertionFailure() << "expected " << raw << ", got " << status_name(r.status);
  }
  if (r.packet.raw != raw) {
    return ::testing::AssertionFailure() << "expected " << raw << "\n     got " << r.packet.raw;
  }
  return ::testing::AssertionSuccess();
}

CtlResult chatctl(const std::string& chatctl_path, const std::string& socket,
                  const std::vector<std::string>& args) {
  std::vector<std::string> argv{chatctl_path, "--socket", socket};
  argv.insert(argv.end(), args.begin(), args.end());
  CtlResult r;
  const auto status = run_process(argv, r.output);
  if (status && WIFEXITED(*status)) {
    r.exit_code = WEXITSTATUS(*status);
  }
  return r;
}

}  // namespace chat::test::svc
