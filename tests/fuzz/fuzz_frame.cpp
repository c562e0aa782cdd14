// Fuzzes FrameDecoder: any split of any byte stream yields the same frames as one feed.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "protocol/frame.hpp"
#include "tests/support/wire.hpp"

namespace {

using chat::proto::FrameDecoder;

// Decodes everything available; stops at the first empty frame like the server.
bool drain(FrameDecoder& d, std::vector<std::string>& out) {
  std::string_view payload;
  while (true) {
    const auto st = d.next(payload);
    if (st == FrameDecoder::Status::kNeedMore) {
      return true;
    }
    if (st == FrameDecoder::Status::kEmptyFrame) {
      return false;
    }
    if (payload.empty() || payload.size() > chat::proto::kMaxPayload) {
      std::abort();
    }
    out.emplace_back(payload);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) {
    return 0;
  }
  // The first byte seeds the split sizes; the rest is the stream.
  unsigned seed = data[0];
  const std::string stream(reinterpret_cast<const char*>(data + 1), size - 1);

  FrameDecoder whole;
  whole.feed(stream);
  std::vector<std::string> expected;
  const bool whole_ok = drain(whole, expected);

  FrameDecoder split;
  std::vector<std::string> got;
  bool split_ok = true;
  std::size_t pos = 0;
  bool use_prepare = false;
  while (pos < stream.size() && split_ok) {
    seed = seed * 1103515245U + 12345U;
    const std::size_t n = std::min<std::size_t>(stream.size() - pos, 1 + (seed >> 16) % 7);
    if (use_prepare) {
      char* buf = split.prepare(n);
      std::copy(stream.data() + pos, stream.data() + pos + n, buf);
      split.commit(n);
    } else {
      split.feed(std::string_view(stream).substr(pos, n));
    }
    use_prepare = !use_prepare;
    pos += n;
    split_ok = drain(split, got);
  }
  if (whole_ok != split_ok || got != expected) {
    std::abort();
  }
  if (whole_ok && whole.buffered() != split.buffered()) {
    std::abort();
  }
  // Encoding a decoded payload reproduces its frame.
  for (const auto& p : expected) {
    const std::string f = chat::test::frame_of(p);
    if (f.size() != p.size() + 2 || f.compare(2, std::string::npos, p) != 0) {
      std::abort();
    }
  }
  return 0;
}
