// GoogleTest assertions on what a TestClient receives, shared by the chatd suites.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "tests/support/chatd_process.hpp"
#include "tests/support/test_client.hpp"

namespace chat::test {

using Members = std::vector<std::pair<std::string, std::string>>;

// Receives the next packet on `c` into `out`; a failure naming what came instead
// of the `type` packet the caller expects.
inline ::testing::AssertionResult receive_for(TestClient& c, const std::string& type, Packet& out,
                                              std::chrono::milliseconds timeout) {
  auto r = c.recv(timeout);
  if (r.status != TestClient::Status::kPacket) {
    return ::testing::AssertionFailure()
           << "expected a " << type << " packet, got " << status_name(r.status);
  }
  out = std::move(r.packet);
  return ::testing::AssertionSuccess();
}

// The next packet on `c` is `type` with (at least) these members; string members
// compare decoded, others as compact JSON text (e.g. {"history", "true"}).
inline ::testing::AssertionResult next_is(TestClient& c, const std::string& type,
                                          const Members& members,
                                          std::chrono::milliseconds timeout = kPatience) {
  Packet packet;
  if (auto got = receive_for(c, type, packet, timeout); !got) {
    return got;
  }
  if (!packet.json || packet.type != type) {
    return ::testing::AssertionFailure() << "expected a " << type << " packet, got " << packet.raw;
  }
  for (const auto& [name, value] : members) {
    if (!packet.has(name) || packet.get(name) != value) {
      return ::testing::AssertionFailure()
             << "expected " << name << "=" << value << " in " << packet.raw;
    }
  }
  return ::testing::AssertionSuccess();
}

// "error, then closed": the error packet with `code` and a non-empty message, then EOF.
inline ::testing::AssertionResult error_then_close(TestClient& c, const std::string& code) {
  auto r = c.recv();
  if (r.status != TestClient::Status::kPacket) {
    return ::testing::AssertionFailure()
           << "expected error " << code << ", got " << status_name(r.status);
  }
  if (r.packet.type != "error" || r.packet.get("code") != code) {
    return ::testing::AssertionFailure() << "expected error " << code << ", got " << r.packet.raw;
  }
  if (r.packet.get("message").empty()) {
    return ::testing::AssertionFailure() << "error without a message: " << r.packet.raw;
  }
  std::vector<Packet> after;
  const auto end = c.read_until_closed(after);
  if (!after.empty()) {
    return ::testing::AssertionFailure()
           << "packet after the error instead of the close: " << after.front().raw;
  }
  if (end != TestClient::Status::kEof) {
    return ::testing::AssertionFailure()
           << "expected EOF after the error, got " << status_name(end);
  }
  return ::testing::AssertionSuccess();
}

}  // namespace chat::test
