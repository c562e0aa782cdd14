// Framing: the length prefix counts payload bytes only; N = 0 is invalid.
#include "protocol/frame.hpp"

#include <cstring>
#include <new>

namespace chat::proto {
namespace {
constexpr std::size_t kShrinkAbove = 4096;
}  // namespace

bool append_frame(std::string& out, std::string_view payload) {
  if (payload.empty() || payload.size() > kMaxPayload) {
    return false;
  }
  out.push_back(static_cast<char>((payload.size() >> 8) & 0xff));
  out.push_back(static_cast<char>(payload.size() & 0xff));
  out.append(payload);
  return true;
}

thread_local std::size_t Frame::live_bytes_ = 0;

std::optional<Frame> Frame::make(std::string_view payload) {
  if (payload.empty() || payload.size() > kMaxPayload) {
    return std::nullopt;
  }
  const std::size_t size = kHeaderSize + payload.size();
  auto* rep = new (::operator new(sizeof(Rep) + size)) Rep{1, size};
  char* out = rep->data();
  out[0] = static_cast<char>((payload.size() >> 8) & 0xff);
  out[1] = static_cast<char>(payload.size() & 0xff);
  std::memcpy(out + kHeaderSize, payload.data(), payload.size());
  live_bytes_ += size;
  return Frame(rep);
}

void Frame::release() noexcept {
  if (rep_ != nullptr && --rep_->refs == 0) {
    live_bytes_ -= rep_->size;
    rep_->~Rep();
    ::operator delete(rep_);
  }
  rep_ = nullptr;
}

void FrameDecoder::compact() {
  // Drop consumed bytes once they dominate, so the buffer stays bounded by one
  // frame plus one read without moving memory on every packet.
  if (pos_ == buf_.size()) {
    // Everything consumed: give back a large buffer (one big packet must not
    // pin its size for the life of an idle connection).
    if (buf_.capacity() > kShrinkAbove) {
      std::string().swap(buf_);
    } else {
      buf_.clear();
    }
    pos_ = 0;
  } else if (pos_ > 0 && pos_ >= buf_.size() / 2) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
}

void FrameDecoder::feed(std::string_view bytes) {
  compact();
  buf_.append(bytes);
}

char* FrameDecoder::prepare(std::size_t n) {
  compact();
  end_ = buf_.size();
  buf_.resize(end_ + n);
  return buf_.data() + end_;
}

void FrameDecoder::commit(std::size_t n) {
  buf_.resize(end_ + n);
}

FrameDecoder::Status FrameDecoder::next(std::string_view& payload) {
  const std::size_t avail = buf_.size() - pos_;
  if (avail < kHeaderSize) {
    return Status::kNeedMore;
  }
  const auto* p = reinterpret_cast<const unsigned char*>(buf_.data() + pos_);
  const std::size_t n = (static_cast<std::size_t>(p[0]) << 8) | p[1];
  if (n == 0) {
    return Status::kEmptyFrame;
  }
  if (avail < kHeaderSize + n) {
    return Status::kNeedMore;
  }
  payload = std::string_view(buf_.data() + pos_ + kHeaderSize, n);
  pos_ += kHeaderSize + n;
  return Status::kFrame;
}

}  // namespace chat::proto
