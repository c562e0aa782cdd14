// 2-byte big-endian length framing: the Frame type, an encoder and an incremental decoder.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace chat::proto {

inline constexpr std::size_t kHeaderSize = 2;
inline constexpr std::size_t kMaxPayload = 65535;
inline constexpr std::size_t kMinFrame = kHeaderSize + 1;
inline constexpr std::size_t kMaxFrame = kHeaderSize + kMaxPayload;

// One whole frame (length prefix + 1..kMaxPayload payload bytes), immutable and
// shared by reference count: a broadcast is encoded once and queued for every
// recipient. Frame::make is the only way to get one, and it refuses an empty or
// oversize payload, so an empty or oversize frame cannot exist.
//
// The count is not atomic (one event-loop thread shares a frame among hundreds
// of queues; an atomic increment per recipient was measured at a large part of a
// flood's cost): a Frame and its copies must stay on one thread.
class Frame {
 public:
  // nullopt if `payload` is empty or longer than kMaxPayload.
  static std::optional<Frame> make(std::string_view payload);

  Frame(const Frame& other) noexcept : rep_(other.rep_) { ++rep_->refs; }
  Frame(Frame&& other) noexcept : rep_(other.rep_) { other.rep_ = nullptr; }
  Frame& operator=(const Frame& other) noexcept {
    Frame copy(other);
    std::swap(rep_, copy.rep_);
    return *this;
  }
  Frame& operator=(Frame&& other) noexcept {
    std::swap(rep_, other.rep_);
    return *this;
  }
  ~Frame() { release(); }

  // The wire bytes: header and payload (kMinFrame..kMaxFrame bytes).
  std::string_view bytes() const { return {rep_->data(), rep_->size}; }
  std::size_t size() const { return rep_->size; }
  std::string_view payload() const { return bytes().substr(kHeaderSize); }
  const char* data() const { return rep_->data(); }
  // Two handles to the same encoded frame.
  bool same(const Frame& other) const { return rep_ == other.rep_; }
  std::size_t use_count() const { return rep_ == nullptr ? 0 : rep_->refs; }

  // Bytes held by every frame alive on this thread (each shared frame counted
  // once): the daemon's memory budget reads this.
  static std::size_t live_bytes() { return live_bytes_; }

 private:
  // The count, the size and the bytes in one allocation (one malloc per frame):
  // the bytes follow the header.
  struct Rep {
    std::size_t refs;
    std::size_t size;
    char* data() { return reinterpret_cast<char*>(this + 1); }
    const char* data() const { return reinterpret_cast<const char*>(this + 1); }
  };
  explicit Frame(Rep* rep) noexcept : rep_(rep) {}
  void release() noexcept;

  Rep* rep_;
  static thread_local std::size_t live_bytes_;
};

// Appends the frame for `payload` (1..kMaxPayload bytes) to `out`. Returns false,
// appending nothing, if the payload is empty or too long to frame.
bool append_frame(std::string& out, std::string_view payload);

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
