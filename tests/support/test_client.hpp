// A raw protocol client for tests: framed send/receive over a real TCP socket, with deadlines.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/unique_fd.hpp"
#include "tests/support/patience.hpp"
#include "tests/support/wire.hpp"

namespace chat::test {

// One received payload, parsed independently of the code under test.
struct Packet {
  std::string raw;    // the payload bytes as received
  bool json = false;  // parsed as a JSON object
  std::string type;   // "" if there is no string "type"
  // String members decoded; other members as their compact JSON text.
  std::map<std::string, std::string> members;

  bool has(const std::string& name) const { return members.count(name) != 0; }
  // The member's value, or "" when absent.
  std::string get(const std::string& name) const;
  static Packet parse(std::string_view payload);
  // One line for failure messages.
  std::string describe() const { return raw; }
};

// The JSON text of a string (quoted and escaped).
std::string json_string(std::string_view s);
std::string hello_json(std::string_view nick);
std::string chat_json(std::string_view message);
// A frame whose length prefix is right for `payload` (any length up to 65535).
inline std::string frame(std::string_view payload) {
  return frame_of(payload);
}

class TestClient {
 public:
  enum class Status { kPacket, kTimeout, kEof, kReset, kBadFrame };
  struct Received {
    Status status;
    Packet packet;  // valid when status == kPacket
  };

  TestClient() = default;
  // Connects to 127.0.0.1:port (blocking connect), then switches to non-blocking.
  // `rcvbuf` > 0 shrinks SO_RCVBUF before connecting (to make a slow reader).
  static TestClient connect(std::uint16_t port, int rcvbuf = 0) {
    return connect("127.0.0.1", port, rcvbuf);
  }
  // The same to any IPv4 or IPv6 literal ("::1").
  static TestClient connect(const std::string& address, std::uint16_t port, int rcvbuf = 0);
  explicit operator bool() const { return static_cast<bool>(fd_); }
  int fd() const { return fd_.get(); }

  // Writes all of `bytes`, waiting (bounded) for the socket to take them.
  bool send_raw(std::string_view bytes, std::chrono::milliseconds timeout = kPatience);
  // Writes one byte per send() call, with TCP_NODELAY so they leave separately.
  bool send_byte_by_byte(std::string_view bytes);
  bool send_packet(std::string_view payload) { return send_raw(frame(payload)); }
  bool send_hello(std::string_view nick) { return send_packet(hello_json(nick)); }
  bool send_chat(std::string_view message) { return send_packet(chat_json(message)); }

  // Next packet, or why there is none within `timeout`.
  Received recv(std::chrono::milliseconds timeout = kPatience);
  // Next packet; nullopt on timeout, EOF or reset.
  std::optional<Packet> recv_packet(std::chrono::milliseconds timeout = kPatience);
  // Reads whatever is already buffered or arrives until EOF/reset, bounded; the
  // packets read on the way go to `before` and the result says how it ended.
  Status read_until_closed(std::vector<Packet>& before,
                           std::chrono::milliseconds timeout = kPatience);
  // Non-blocking: reads what the socket has now into the buffer; false on EOF/reset.
  bool pump();
  // Packets complete in the buffer, without reading the socket.
  std::optional<Packet> take_buffered();
  bool eof() const { return eof_; }

  // Clean close (FIN).
  void close() { fd_.reset(); }
  // Close with RST (SO_LINGER 0).
  void reset();
  void shutdown_write();

 private:
  explicit TestClient(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
  std::string in_;
  std::size_t in_pos_ = 0;  // bytes of in_ already returned as packets
  bool eof_ = false;
  bool reset_ = false;
  bool bad_frame_ = false;
};

const char* status_name(TestClient::Status status);

// Connects, sends hello and waits for the join of `nick` addressed to itself; any
// other packets before it (joins of others are impossible for a newcomer) fail it.
// Returns an empty client on failure and says why in `error`.
TestClient join_as(std::uint16_t port, std::string_view nick, std::string& error);

}  // namespace chat::test
