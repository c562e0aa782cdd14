// Framing: 2-byte big-endian length prefix, and the decoder fed every possible split.
#include "protocol/frame.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace chat::proto {
namespace {

// The wire bytes Frame::make gives, or "" where it refuses to make a frame.
std::string encode_frame(std::string_view payload) {
  const auto frame = Frame::make(payload);
  return frame ? std::string(frame->bytes()) : std::string();
}

TEST(Frame, MakeRefusesEmptyAndOversizePayloads) {
  EXPECT_FALSE(Frame::make(""));
  EXPECT_FALSE(Frame::make(std::string(kMaxPayload + 1, 'q')));
  const auto smallest = Frame::make("x");
  ASSERT_TRUE(smallest);
  EXPECT_EQ(smallest->size(), kMinFrame);
  const auto largest = Frame::make(std::string(kMaxPayload, 'q'));
  ASSERT_TRUE(largest);
  EXPECT_EQ(largest->size(), kMaxFrame);
  EXPECT_EQ(largest->payload().size(), kMaxPayload);
}

TEST(Frame, CopiesShareOneEncodingAndLiveBytesCountItOnce) {
  const std::size_t before = Frame::live_bytes();
  {
    const auto a = Frame::make("hello");
    ASSERT_TRUE(a);
    EXPECT_EQ(Frame::live_bytes(), before + 7);
    Frame b = *a;
    Frame c = b;
    EXPECT_TRUE(b.same(*a));
    EXPECT_EQ(a->use_count(), 3u);
    EXPECT_EQ(Frame::live_bytes(), before + 7);
    Frame d = std::move(c);
    EXPECT_EQ(a->use_count(), 3u);
    b = *Frame::make("other");
    EXPECT_EQ(a->use_count(), 2u);
    EXPECT_EQ(Frame::live_bytes(), before + 7 + 7);
  }
  EXPECT_EQ(Frame::live_bytes(), before);
}

// Drains every complete payload; stops at kNeedMore or kEmptyFrame (returned in `last`).
std::vector<std::string> drain(FrameDecoder& d, FrameDecoder::Status* last = nullptr) {
  std::vector<std::string> out;
  std::string_view payload;
  FrameDecoder::Status s;
  while ((s = d.next(payload)) == FrameDecoder::Status::kFrame) {
    out.emplace_back(payload);
  }
  if (last != nullptr) {
    *last = s;
  }
  return out;
}

std::string stream_of(const std::vector<std::string>& payloads) {
  std::string out;
  for (const auto& p : payloads) {
    EXPECT_TRUE(append_frame(out, p));
  }
  return out;
}

const std::vector<std::string> kPayloads{
    R"({"type":"hello","nick":"pat"})",
    R"({"type":"chat","message":"hi"})",
    "x",
    R"({"type":"chat","message":"你好 🎉"})",
    std::string(300, 'a'),  // length > 255: both header bytes non-zero
};

TEST(Frame, EncodePrefixesBigEndianLength) {
  EXPECT_EQ(encode_frame("abc"), std::string("\x00\x03"
                                             "abc",
                                             5));
  const std::string p(0x0102, 'z');
  const std::string f = encode_frame(p);
  ASSERT_EQ(f.size(), 2 + p.size());
  EXPECT_EQ(static_cast<unsigned char>(f[0]), 0x01);
  EXPECT_EQ(static_cast<unsigned char>(f[1]), 0x02);
  EXPECT_EQ(f.substr(2), p);
}

TEST(Frame, EncodeMaxPayload65535) {
  const std::string p(kMaxPayload, 'q');
  const std::string f = encode_frame(p);
  ASSERT_EQ(f.size(), 65537u);
  EXPECT_EQ(static_cast<unsigned char>(f[0]), 0xff);
  EXPECT_EQ(static_cast<unsigned char>(f[1]), 0xff);
}

TEST(Frame, EncodeRefusesEmptyAndOversizedPayload) {
  std::string out = "keep";
  EXPECT_FALSE(append_frame(out, ""));
  EXPECT_FALSE(append_frame(out, std::string(kMaxPayload + 1, 'q')));
  EXPECT_EQ(out, "keep");
  EXPECT_EQ(encode_frame(""), "");
  EXPECT_EQ(encode_frame(std::string(kMaxPayload + 1, 'q')), "");
}

TEST(Frame, AppendFrameAppends) {
  std::string out = "ab";
  ASSERT_TRUE(append_frame(out, "c"));
  EXPECT_EQ(out, std::string("ab\x00\x01"
                             "c",
                             5));
}

TEST(FrameDecoder, EmptyDecoderNeedsMore) {
  FrameDecoder d;
  std::string_view p;
  EXPECT_EQ(d.next(p), FrameDecoder::Status::kNeedMore);
  EXPECT_EQ(d.buffered(), 0u);
}

TEST(FrameDecoder, ManyPacketsInOneFeed) {
  FrameDecoder d;
  d.feed(stream_of(kPayloads));
  FrameDecoder::Status last;
  EXPECT_EQ(drain(d, &last), kPayloads);
  EXPECT_EQ(last, FrameDecoder::Status::kNeedMore);
  EXPECT_EQ(d.buffered(), 0u);
}

TEST(FrameDecoder, ByteByByte) {
  const std::string stream = stream_of(kPayloads);
  FrameDecoder d;
  std::vector<std::string> got;
  for (const char c : stream) {
    d.feed(std::string_view(&c, 1));
    for (auto& p : drain(d)) {
      got.push_back(std::move(p));
    }
  }
  EXPECT_EQ(got, kPayloads);
  EXPECT_EQ(d.buffered(), 0u);
}

TEST(FrameDecoder, EveryTwoWaySplit) {
  const std::string stream = stream_of(kPayloads);
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    FrameDecoder d;
    d.feed(std::string_view(stream).substr(0, cut));
    auto got = drain(d);
    d.feed(std::string_view(stream).substr(cut));
    for (auto& p : drain(d)) {
      got.push_back(std::move(p));
    }
    ASSERT_EQ(got, kPayloads) << "split at " << cut;
  }
}

TEST(FrameDecoder, EveryThreeWaySplitOfTwoPackets) {
  const std::vector<std::string> two{R"({"type":"chat","message":"one"})",
                                     R"({"type":"chat","message":"two"})"};
  const std::string stream = stream_of(two);
  for (std::size_t a = 0; a <= stream.size(); ++a) {
    for (std::size_t b = a; b <= stream.size(); ++b) {
      FrameDecoder d;
      std::vector<std::string> got;
      for (auto part :
           {std::string_view(stream).substr(0, a), std::string_view(stream).substr(a, b - a),
            std::string_view(stream).substr(b)}) {
        d.feed(part);
        for (auto& p : drain(d)) {
          got.push_back(std::move(p));
        }
      }
      ASSERT_EQ(got, two) << "splits at " << a << "," << b;
    }
  }
}

TEST(FrameDecoder, HalfHeaderWaits) {
  FrameDecoder d;
  d.feed(std::string_view("\x00", 1));
  std::string_view p;
  EXPECT_EQ(d.next(p), FrameDecoder::Status::kNeedMore);
  EXPECT_EQ(d.buffered(), 1u);
  d.feed(
      std::string_view("\x02"
                       "o",
                       2));
  EXPECT_EQ(d.next(p), FrameDecoder::Status::kNeedMore);
  d.feed("k");
  ASSERT_EQ(d.next(p), FrameDecoder::Status::kFrame);
  EXPECT_EQ(p, "ok");
}

TEST(FrameDecoder, ExtractsOnlyWhenWholePayloadBuffered) {
  const std::string f = encode_frame("hello");
  FrameDecoder d;
  d.feed(std::string_view(f).substr(0, f.size() - 1));
  std::string_view p;
  EXPECT_EQ(d.next(p), FrameDecoder::Status::kNeedMore);
  EXPECT_EQ(d.buffered(), f.size() - 1);
  d.feed(std::string_view(f).substr(f.size() - 1));
  ASSERT_EQ(d.next(p), FrameDecoder::Status::kFrame);
  EXPECT_EQ(p, "hello");
}

TEST(FrameDecoder, ZeroLengthIsEmptyFrame) {
  FrameDecoder d;
  d.feed(std::string_view("\x00\x00", 2));
  std::string_view p;
  EXPECT_EQ(d.next(p), FrameDecoder::Status::kEmptyFrame);
  // The decoder does not resynchronise: it keeps reporting the bad frame.
  EXPECT_EQ(d.next(p), FrameDecoder::Status::kEmptyFrame);
}

TEST(FrameDecoder, ZeroLengthAfterValidPackets) {
  FrameDecoder d;
  std::string stream = stream_of({"a", "b"});
  stream.append("\x00\x00", 2);
  stream += encode_frame("c");
  d.feed(stream);
  FrameDecoder::Status last;
  EXPECT_EQ(drain(d, &last), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(last, FrameDecoder::Status::kEmptyFrame);
}

TEST(FrameDecoder, ZeroLengthReportedWithOnlyTheHeader) {
  // N = 0 is detectable from the two header bytes alone, split or not.
  FrameDecoder d;
  std::string_view p;
  d.feed(std::string_view("\x00", 1));
  EXPECT_EQ(d.next(p), FrameDecoder::Status::kNeedMore);
  d.feed(std::string_view("\x00", 1));
  EXPECT_EQ(d.next(p), FrameDecoder::Status::kEmptyFrame);
}

TEST(FrameDecoder, MaxPayloadIntact) {
  std::string payload(kMaxPayload, '\0');
  for (std::size_t i = 0; i < payload.size(); ++i) {
    payload[i] = static_cast<char>('a' + i % 26);
  }
  const std::string f = encode_frame(payload);
  FrameDecoder d;
  // In uneven chunks, as reads would deliver it.
  std::size_t off = 0;
  std::size_t chunk = 1;
  std::vector<std::string> got;
  while (off < f.size()) {
    const std::size_t n = std::min(chunk, f.size() - off);
    d.feed(std::string_view(f).substr(off, n));
    off += n;
    chunk = chunk * 3 + 1;
    for (auto& p : drain(d)) {
      got.push_back(std::move(p));
    }
  }
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], payload);
}

TEST(FrameDecoder, PrepareCommitPath) {
  const std::string stream = stream_of(kPayloads);
  FrameDecoder d;
  std::vector<std::string> got;
  std::size_t off = 0;
  std::size_t step = 1;
  while (off < stream.size()) {
    // Offer more room than is written, as read() into a fixed buffer does.
    const std::size_t room = 4096;
    char* dst = d.prepare(room);
    const std::size_t n = std::min(step, stream.size() - off);
    std::memcpy(dst, stream.data() + off, n);
    d.commit(n);
    off += n;
    step = step % 37 + 5;
    for (auto& p : drain(d)) {
      got.push_back(std::move(p));
    }
  }
  EXPECT_EQ(got, kPayloads);
  EXPECT_EQ(d.buffered(), 0u);
}

TEST(FrameDecoder, PrepareCommitZeroAddsNothing) {
  FrameDecoder d;
  d.feed(std::string_view("\x00", 1));
  d.prepare(100);
  d.commit(0);
  EXPECT_EQ(d.buffered(), 1u);
  std::string_view p;
  EXPECT_EQ(d.next(p), FrameDecoder::Status::kNeedMore);
}

TEST(FrameDecoder, MixedFeedAndPrepare) {
  const std::string stream = stream_of(kPayloads);
  FrameDecoder d;
  std::vector<std::string> got;
  for (std::size_t i = 0; i < stream.size(); ++i) {
    if (i % 2 == 0) {
      d.feed(std::string_view(stream).substr(i, 1));
    } else {
      char* dst = d.prepare(8);
      dst[0] = stream[i];
      d.commit(1);
    }
    for (auto& p : drain(d)) {
      got.push_back(std::move(p));
    }
  }
  EXPECT_EQ(got, kPayloads);
}

TEST(FrameDecoder, LongStreamStaysBounded) {
  // Many packets with a partial one always pending: the consumed prefix is dropped.
  const std::string f = encode_frame(std::string(100, 'm'));
  FrameDecoder d;
  std::size_t frames = 0;
  for (int i = 0; i < 10000; ++i) {
    d.feed(std::string_view(f).substr(0, 50));
    frames += drain(d).size();
    d.feed(std::string_view(f).substr(50));
    frames += drain(d).size();
    EXPECT_LE(d.buffered(), f.size());
  }
  EXPECT_EQ(frames, 10000u);
}

}  // namespace
}  // namespace chat::proto
