// The event loop's timers: order, cancellation, re-arming from a callback, and
// how they bound the wait, on both backends and a fake clock.
#include "daemon/event_loop.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <vector>

#include "common/unique_fd.hpp"

namespace chat::daemon {
namespace {

using namespace std::chrono_literals;
using Clock = EventLoop::Clock;

class TimerTest : public ::testing::TestWithParam<EventLoop::Backend> {
 protected:
  void SetUp() override {
    loop_ = EventLoop::create(GetParam());
    ASSERT_NE(loop_, nullptr);
    now_ = Clock::now();
    loop_->set_clock([this] { return now_; });
  }
  std::unique_ptr<EventLoop> loop_;
  Clock::time_point now_;
};

TEST_P(TimerTest, RunInTimeOrderOnlyWhenDue) {
  std::vector<int> ran;
  loop_->add_timer(now_ + 30ms, [&] { ran.push_back(3); });
  loop_->add_timer(now_ + 10ms, [&] { ran.push_back(1); });
  loop_->add_timer(now_ + 20ms, [&] { ran.push_back(2); });
  ASSERT_TRUE(loop_->run_once(0ms));
  EXPECT_TRUE(ran.empty());
  now_ += 20ms;
  ASSERT_TRUE(loop_->run_once(0ms));
  EXPECT_EQ(ran, (std::vector<int>{1, 2}));
  now_ += 10ms;
  ASSERT_TRUE(loop_->run_once(0ms));
  EXPECT_EQ(ran, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(loop_->timer_count(), 0U);
}

TEST_P(TimerTest, CancelledTimerNeverRuns) {
  int ran = 0;
  const auto a = loop_->add_timer(now_ + 1ms, [&] { ++ran; });
  EXPECT_TRUE(loop_->cancel_timer(a));
  EXPECT_FALSE(loop_->cancel_timer(a));
  now_ += 5ms;
  ASSERT_TRUE(loop_->run_once(0ms));
  EXPECT_EQ(ran, 0);
}

TEST_P(TimerTest, CallbackMayCancelAnotherDueTimer) {
  int second = 0;
  EventLoop::TimerId b = 0;
  loop_->add_timer(now_ + 1ms, [&] { EXPECT_TRUE(loop_->cancel_timer(b)); });
  b = loop_->add_timer(now_ + 2ms, [&] { ++second; });
  now_ += 5ms;
  ASSERT_TRUE(loop_->run_once(0ms));
  EXPECT_EQ(second, 0);
}

TEST_P(TimerTest, RearmingForThePastRunsNextCallNotInALoop) {
  int runs = 0;
  std::function<void()> again = [&] {
    ++runs;
    loop_->add_timer(now_ - 1s, again);  // already due: must wait for the next call
  };
  loop_->add_timer(now_, again);
  ASSERT_TRUE(loop_->run_once(0ms));
  EXPECT_EQ(runs, 1);
  ASSERT_TRUE(loop_->run_once(0ms));
  EXPECT_EQ(runs, 2);
}

// On the real clock: a timer bounds an otherwise unlimited wait, and a wait
// for a far timer returns when a descriptor becomes ready.
TEST_P(TimerTest, TimerBoundsTheWaitAndReadinessInterruptsIt) {
  loop_->set_clock(nullptr);
  bool fired = false;
  const auto start = Clock::now();
  loop_->add_timer(start + 20ms, [&] { fired = true; });
  while (!fired) {
    ASSERT_TRUE(loop_->run_once(-1ms));
    ASSERT_LT(Clock::now() - start, 5s);
  }
  EXPECT_GE(Clock::now() - start, 20ms);

  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  UniqueFd r(fds[0]);
  UniqueFd w(fds[1]);
  bool readable = false;
  ASSERT_TRUE(loop_->add(r.get(), kRead, [&](unsigned) { readable = true; }));
  const auto far = loop_->add_timer(Clock::now() + 60s, [] {});
  ASSERT_EQ(::write(w.get(), "x", 1), 1);
  const auto before = Clock::now();
  ASSERT_TRUE(loop_->run_once(-1ms));
  EXPECT_TRUE(readable);
  EXPECT_LT(Clock::now() - before, 5s);
  EXPECT_GE(loop_->woke(), before);
  loop_->cancel_timer(far);
  loop_->remove(r.get());
}

INSTANTIATE_TEST_SUITE_P(Backends, TimerTest,
                         ::testing::Values(EventLoop::Backend::kSelect, EventLoop::Backend::kEpoll),
                         [](const auto& info) {
                           return info.param == EventLoop::Backend::kEpoll ? "epoll" : "select";
                         });

}  // namespace
}  // namespace chat::daemon
