// Service-suite helpers: notify datagrams, bounded waits, exact packets, chatctl runs.
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

#include "common/net.hpp"
#include "tests/support/subprocess.hpp"

namespace chat::test::svc {
NotifySocket::NotifySocket(std::string path) : path_(std::move(path)) {
  sockaddr_un un{};
  if (!net::make_unix_address(path_, un)) {
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

RunResult chatctl(const std::string& chatctl_path, const std::string& socket,
                  const std::vector<std::string>& args) {
  std::vector<std::string> argv{chatctl_path, "--socket", socket};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv);
}

}  // namespace chat::test::svc
