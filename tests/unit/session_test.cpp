// Session over a real socketpair: queueing, gathering into send(), short writes,
// accounting, output progress and EOF.
#include "daemon/session.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <string>

namespace chat::daemon {
namespace {

using Clock = std::chrono::steady_clock;

struct Pair {
  Pair() {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
    ours = UniqueFd(fds[0]);
    peer = UniqueFd(fds[1]);
  }
  std::string read_all() {
    std::string out;
    std::array<char, 65536> buf{};
    while (true) {
      const ssize_t n = ::recv(peer.get(), buf.data(), buf.size(), MSG_DONTWAIT);
      if (n <= 0) {
        return out;
      }
      out.append(buf.data(), static_cast<std::size_t>(n));
    }
  }
  UniqueFd ours;
  UniqueFd peer;
};

Frame frame_of(const std::string& payload) {
  return *Frame::make(payload);
}

TEST(Session, FlushSendsQueuedFramesInOrderAndEmptiesTheQueue) {
  Pair p;
  Session s(1, std::move(p.ours), "test");
  const auto t0 = Clock::now();
  ASSERT_TRUE(s.enqueue(frame_of("one"), t0));
  ASSERT_TRUE(s.enqueue(frame_of("two"), t0));
  EXPECT_EQ(s.queued_bytes(), 10u);
  EXPECT_EQ(s.flush(t0), Session::IoResult::kOk);
  EXPECT_FALSE(s.has_output());
  EXPECT_EQ(s.queued_bytes(), 0u);
  EXPECT_EQ(s.bytes_out, 10u);
  EXPECT_EQ(p.read_all(), std::string("\x00\x03one\x00\x03two", 10));
}

TEST(Session, AFullSocketKeepsTheRestQueuedAndProgressMovesOnlyWhenBytesGo) {
  Pair p;
  const int small = 4096;
  ::setsockopt(p.ours.get(), SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
  Session s(1, std::move(p.ours), "test");
  const auto t0 = Clock::now();
  const std::string big(60000, 'b');
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(s.enqueue(frame_of(big), t0));
  }
  EXPECT_EQ(s.output_progress(), t0);
  const auto t1 = t0 + std::chrono::seconds(1);
  EXPECT_EQ(s.flush(t1), Session::IoResult::kWouldBlock);
  EXPECT_TRUE(s.has_output());
  EXPECT_EQ(s.output_progress(), t1) << "bytes were taken: progress";
  const auto t2 = t0 + std::chrono::seconds(2);
  EXPECT_EQ(s.flush(t2), Session::IoResult::kWouldBlock);
  EXPECT_EQ(s.output_progress(), t1) << "nothing taken: no progress";
  // Accounting: queued bytes are what is left of the queue.
  std::size_t left = 0;
  for (const auto& f : s.queued()) {
    left += f.size();
  }
  EXPECT_EQ(s.queued_bytes(), left - s.written_of_front());
  // The peer drains; everything arrives whole, in order.
  std::string got;
  for (int i = 0; i < 1000 && s.has_output(); ++i) {
    got += p.read_all();
    (void)s.flush(t2);
  }
  got += p.read_all();
  EXPECT_FALSE(s.has_output());
  EXPECT_EQ(got.size(), 20u * (big.size() + 2));
}

TEST(Session, ReadSomeFeedsTheDecoderAndSeesEof) {
  Pair p;
  Session s(1, std::move(p.ours), "test");
  ASSERT_EQ(::send(p.peer.get(), "\x00\x02hi", 4, 0), 4);
  EXPECT_EQ(s.read_some(1 << 20), Session::IoResult::kWouldBlock);
  std::string_view payload;
  ASSERT_EQ(s.input().next(payload), proto::FrameDecoder::Status::kFrame);
  EXPECT_EQ(payload, "hi");
  p.peer.reset();
  EXPECT_EQ(s.read_some(1 << 20), Session::IoResult::kEof);
}

TEST(Session, DropOutputForgetsTheQueueAndItsBytes) {
  Pair p;
  Session s(1, std::move(p.ours), "test");
  const std::size_t before = Frame::live_bytes();
  ASSERT_TRUE(s.enqueue(frame_of(std::string(1000, 'x')), Clock::now()));
  EXPECT_EQ(Frame::live_bytes(), before + 1002);
  s.drop_output();
  EXPECT_EQ(s.queued_bytes(), 0u);
  EXPECT_EQ(Frame::live_bytes(), before) << "the frame's memory went with the queue";
}

}  // namespace
}  // namespace chat::daemon
