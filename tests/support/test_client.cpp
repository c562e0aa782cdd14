// Test client: framing by hand (not with libchatproto) so the tests check the daemon independently.
#include "tests/support/test_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fcntl.h>
#include <cerrno>
#include <cstring>

#include "tests/support/sockets.hpp"

namespace chat::test {
std::string Packet::get(const std::string& name) const {
  const auto it = members.find(name);
  return it == members.end() ? std::string() : it->second;
}

Packet Packet::parse(std::string_view payload) {
  Packet p;
  p.raw.assign(payload);
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseValidateEncodingFlag>(payload.data(), payload.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    return p;
  }
  p.json = true;
  for (const auto& m : doc.GetObject()) {
    const std::string name(m.name.GetString(), m.name.GetStringLength());
    if (m.value.IsString()) {
      p.members[name].assign(m.value.GetString(), m.value.GetStringLength());
    } else {
      rapidjson::StringBuffer buf;
      rapidjson::Writer<rapidjson::StringBuffer> w(buf);
      m.value.Accept(w);
      p.members[name].assign(buf.GetString(), buf.GetSize());
    }
  }
  const auto t = doc.FindMember("type");
  if (t != doc.MemberEnd() && t->value.IsString()) {
    p.type.assign(t->value.GetString(), t->value.GetStringLength());
  }
  return p;
}

std::string json_string(std::string_view s) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  return std::string(buf.GetString(), buf.GetSize());
}

std::string hello_json(std::string_view nick) {
  return R"({"type":"hello","nick":)" + json_string(nick) + "}";
}

std::string chat_json(std::string_view message) {
  return R"({"type":"chat","message":)" + json_string(message) + "}";
}

TestClient TestClient::connect(const std::string& address, std::uint16_t port, int rcvbuf) {
  sockaddr_storage addr{};
  socklen_t len = 0;
  if (!make_inet_address(address, port, addr, len)) {
    return {};
  }
  UniqueFd fd(::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) {
    return {};
  }
  if (rcvbuf > 0) {
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  }
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    return {};
  }
  const int flags = ::fcntl(fd.get(), F_GETFL);
  ::fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK);
  return TestClient(std::move(fd));
}

bool TestClient::send_raw(std::string_view bytes, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n > 0) {
      bytes.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      return false;
    }
    pollfd pfd{fd_.get(), POLLOUT, 0};
    if (::poll(&pfd, 1, ms_left(deadline)) <= 0 && Clock::now() >= deadline) {
      return false;
    }
  }
  return true;
}

bool TestClient::send_byte_by_byte(std::string_view bytes) {
  const int one = 1;
  ::setsockopt(fd_.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (!send_raw(bytes.substr(i, 1))) {
      return false;
    }
  }
  return true;
}

std::optional<Packet> TestClient::take_buffered() {
  // Consumed bytes are dropped in bulk, not per packet: erasing from the front for
  // every packet is quadratic on the megabyte bursts some tests read.
  if (in_pos_ > 0 && in_pos_ * 2 >= in_.size()) {
    in_.erase(0, in_pos_);
    in_pos_ = 0;
  }
  const std::string_view avail = std::string_view(in_).substr(in_pos_);
  if (avail.size() < 2) {
    return std::nullopt;
  }
  const std::size_t n = (static_cast<std::size_t>(static_cast<unsigned char>(avail[0])) << 8) |
                        static_cast<unsigned char>(avail[1]);
  if (n == 0) {
    bad_frame_ = true;
    return std::nullopt;
  }
  if (avail.size() < 2 + n) {
    return std::nullopt;
  }
  Packet p = Packet::parse(avail.substr(2, n));
  in_pos_ += 2 + n;
  return p;
}

bool TestClient::pump() {
  if (eof_ || reset_) {
    return false;
  }
  char buf[65536];
  while (true) {
    const ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
    if (n > 0) {
      in_.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    if (n == 0) {
      eof_ = true;
      return false;
    }
    if (errno == EINTR) {
      continue;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return true;
    }
    reset_ = true;
    return false;
  }
}

TestClient::Received TestClient::recv(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    if (auto p = take_buffered()) {
      return {Status::kPacket, std::move(*p)};
    }
    if (bad_frame_) {
      return {Status::kBadFrame, {}};
    }
    if (eof_ || reset_) {
      return {reset_ ? Status::kReset : Status::kEof, {}};
    }
    pollfd pfd{fd_.get(), POLLIN, 0};
    const int r = ::poll(&pfd, 1, ms_left(deadline));
    if (r > 0) {
      pump();
      continue;
    }
    if (Clock::now() >= deadline) {
      return {Status::kTimeout, {}};
    }
  }
}

std::optional<Packet> TestClient::recv_packet(std::chrono::milliseconds timeout) {
  auto r = recv(timeout);
  if (r.status != Status::kPacket) {
    return std::nullopt;
  }
  return std::move(r.packet);
}

TestClient::Status TestClient::read_until_closed(std::vector<Packet>& before,
                                                 std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    auto r = recv(std::chrono::milliseconds(ms_left(deadline)));
    if (r.status != Status::kPacket) {
      return r.status;
    }
    before.push_back(std::move(r.packet));
  }
}

void TestClient::reset() {
  if (fd_) {
    const linger lg{1, 0};
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    fd_.reset();
  }
}

void TestClient::shutdown_write() {
  ::shutdown(fd_.get(), SHUT_WR);
}

const char* status_name(TestClient::Status status) {
  switch (status) {
    case TestClient::Status::kPacket:
      return "packet";
    case TestClient::Status::kTimeout:
      return "timeout";
    case TestClient::Status::kEof:
      return "EOF";
    case TestClient::Status::kReset:
      return "connection reset";
    case TestClient::Status::kBadFrame:
      return "frame with N = 0";
  }
  return "?";
}

TestClient join_as(std::uint16_t port, std::string_view nick, std::string& error) {
  TestClient c = TestClient::connect(port);
  if (!c) {
    error = "cannot connect to 127.0.0.1:" + std::to_string(port);
    return {};
  }
  if (!c.send_hello(nick)) {
    error = "cannot send hello";
    return {};
  }
  auto r = c.recv();
  if (r.status != TestClient::Status::kPacket) {
    error = "no join after hello for " + std::string(nick) + " (" + status_name(r.status) + ")";
    return {};
  }
  if (r.packet.type != "join" || r.packet.get("nick") != nick) {
    error = "first packet after hello is not our join: " + r.packet.raw;
    return {};
  }
  return c;
}

}  // namespace chat::test
