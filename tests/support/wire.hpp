// Raw frames for tests: any payload, including ones the product refuses to frame.
#pragma once

#include <string>
#include <string_view>

namespace chat::test {

// 2-byte big-endian length (of the low 16 bits of the size) + payload, unchecked:
// tests use it to send what a hostile peer would.
inline std::string frame_of(std::string_view payload) {
  std::string out;
  out.push_back(static_cast<char>((payload.size() >> 8) & 0xff));
  out.push_back(static_cast<char>(payload.size() & 0xff));
  out.append(payload);
  return out;
}

}  // namespace chat::test
