// 2-byte big-endian length framing: encoder and an incremental decoder.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace chat::proto {

inline constexpr std::size_t kHeaderSize = 2;
inline constexpr std::size_t kMaxPayload = 65535;

// Appends the frame for `payload` (1..kMaxPayload bytes) to `out`. Returns false,
// appending nothing, if the payload is empty or too long to frame.
bool append_frame(std::string& out, std::string_view payload);
// The frame for `payload`; empty string if it cannot be framed.
std::string encode_frame(std::string_view payload);

// Accepts the byte stream in any split and yields whole payloads.
class FrameDecoder {
 public:
  enum class Status { kNeedMore, kFrame, kEmptyFrame };

  // Appends received bytes.
  void feed(std::string_view bytes);
  // Extracts the next payload if 2 + N bytes are buffered. The view stays valid
  // until the next call to feed() or next(). kEmptyFrame reports N = 0, which is a
  // protocol error; the decoder does not resynchronise after it.
  Status next(std::string_view& payload);
  // After kEmptyFrame: steps over its 2-byte header, for a reader that treats it as
  // one malformed frame (the framing around it is intact) instead of closing.
  void skip_empty_frame() { pos_ += kHeaderSize; }
  // Bytes buffered and not yet returned.
  std::size_t buffered() const { return buf_.size() - pos_; }
  // Writable space for a read() straight into the buffer: call commit(n) after.
  char* prepare(std::size_t n);
  void commit(std::size_t n);

 private:
  void compact();
  std::string buf_;
  std::size_t pos_ = 0;
  std::size_t end_ = 0;  // used only between prepare() and commit()
};

}  // namespace chat::proto
