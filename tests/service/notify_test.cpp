// sd_notify as systemd reads it: READY with STATUS, STATUS kept current, WATCHDOG, STOPPING,
// RELOADING.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include "tests/service/service_fixture.hpp"

namespace chat::test::svc {
namespace {

using Notify = ServiceTest;

// The client count of the newest STATUS= line, if any arrived.
std::optional<long> latest_status(ChatdProcess& chatd) {
  std::optional<long> latest;
  for (const auto& line : notification_lines(chatd)) {
    if (auto n = status_client_count(line)) {
      latest = n;
    }
  }
  return latest;
}

// Waits (bounded: chatd sends at most four STATUS= a second) for the newest STATUS= to say `n`.
::testing::AssertionResult status_becomes(ChatdProcess& chatd, long n) {
  if (wait_until([&] { return latest_status(chatd) == n; })) {
    return ::testing::AssertionSuccess();
  }
  std::string lines;
  for (const auto& l : notification_lines(chatd)) {
    lines += "  " + l + "\n";
  }
  return ::testing::AssertionFailure() << "no STATUS= with " << n << " clients; got:\n" << lines;
}

long count_lines(ChatdProcess& chatd, const std::string& line) {
  const auto lines = notification_lines(chatd);
  return std::count(lines.begin(), lines.end(), line);
}

TEST_P(Notify, ReadyCarriesTheStatusAndMainPid) {
  ASSERT_NO_FATAL_FAILURE(start_with(config()));
  const auto datagrams = chatd().notifications();
  const auto ready = std::find_if(datagrams.begin(), datagrams.end(), [](const std::string& d) {
    return d.find("READY=1") != std::string::npos;
  });
  ASSERT_NE(ready, datagrams.end());
  // READY=1 and the first STATUS= travel together, so systemctl status is never blank.
  std::optional<long> count;
  std::istringstream lines(*ready);
  for (std::string line; std::getline(lines, line);) {
    if (auto n = status_client_count(line)) {
      count = n;
    }
  }
  EXPECT_EQ(count, 0L) << *ready;
  EXPECT_NE(ready->find("MAINPID=" + std::to_string(chatd().pid())), std::string::npos) << *ready;
}

TEST_P(Notify, StatusFollowsTheClientCountAsClientsJoinAndLeave) {
  ASSERT_NO_FATAL_FAILURE(start_with(config()));
  ASSERT_TRUE(status_becomes(chatd(), 0));
  TestClient pat = join("pat");
  ASSERT_TRUE(pat);
  EXPECT_TRUE(status_becomes(chatd(), 1));
  TestClient chris = join("chris");
  TestClient leslie = join("leslie");
  ASSERT_TRUE(chris && leslie);
  EXPECT_TRUE(status_becomes(chatd(), 3));
  chris.close();
  EXPECT_TRUE(status_becomes(chatd(), 2));
  pat.reset();
  leslie.close();
  EXPECT_TRUE(status_becomes(chatd(), 0));
  EXPECT_EQ(count_lines(chatd(), "WATCHDOG=1"), 0) << "pings without WATCHDOG_USEC";
}

TEST_P(Notify, StatusCatchesUpWithinAQuarterSecondOfAChange) {
  ASSERT_NO_FATAL_FAILURE(start_with(config()));
  TestClient pat = join("pat");
  ASSERT_TRUE(pat);
  ASSERT_TRUE(status_becomes(chatd(), 1));
  // A second change right after the first one used to wait out a whole second.
  const auto t0 = std::chrono::steady_clock::now();
  TestClient chris = join("chris");
  ASSERT_TRUE(chris);
  ASSERT_TRUE(status_becomes(chatd(), 2));
  const auto lag = std::chrono::steady_clock::now() - t0;
  EXPECT_LT(lag, std::chrono::milliseconds(600))
      << std::chrono::duration_cast<std::chrono::milliseconds>(lag).count() << " ms";
}

TEST_P(Notify, StatusIsRateLimitedButEndsAtTheTrueCount) {
  ASSERT_NO_FATAL_FAILURE(start_with(config()));
  const auto before = notification_lines(chatd()).size();
  // Forty joins and leaves in a burst: chatd must not send forty updates per event,
  // but the last word must be right.
  for (int i = 0; i < 20; ++i) {
    TestClient c = join("burst" + std::to_string(i));
    ASSERT_TRUE(c);
  }
  TestClient stays = join("stays");
  ASSERT_TRUE(stays);
  EXPECT_TRUE(status_becomes(chatd(), 1));
  const auto lines = notification_lines(chatd());
  const auto updates =
      std::count_if(lines.begin() + static_cast<long>(before), lines.end(),
                    [](const std::string& l) { return l.rfind("STATUS=", 0) == 0; });
  EXPECT_LT(updates, 41) << "one STATUS= per join and leave: not rate-limited";
}

TEST_P(Notify, WatchdogPingsArriveWhenWatchdogUsecIsSet) {
  ChatdConfig c = config();
  c.env = {"WATCHDOG_USEC=400000"};  // pings every 200 ms
  ASSERT_NO_FATAL_FAILURE(start_with(c));
  EXPECT_TRUE(wait_until([&] { return count_lines(chatd(), "WATCHDOG=1") >= 3; }))
      << count_lines(chatd(), "WATCHDOG=1") << " WATCHDOG=1 so far";
  // The pings come from the event loop, so they keep coming while it serves clients.
  TestClient pat = join("pat");
  ASSERT_TRUE(pat);
  const long seen = count_lines(chatd(), "WATCHDOG=1");
  ASSERT_TRUE(pat.send_chat("busy"));
  EXPECT_TRUE(wait_until([&] { return count_lines(chatd(), "WATCHDOG=1") >= seen + 2; }));
}

TEST_P(Notify, NoWatchdogPingsWhenTheWatchdogIsMeantForAnotherPid) {
  ChatdConfig c = config();
  // systemd names the pid the watchdog is meant for; ours is not it.
  c.env = {"WATCHDOG_USEC=100000", "WATCHDOG_PID=" + std::to_string(::getpid())};
  ASSERT_NO_FATAL_FAILURE(start_with(c));
  // A round trip through the loop and a STATUS= update (at least a second apart from
  // READY) gives any pinging time to show; with 50 ms pings there would be many.
  TestClient pat = join("pat");
  ASSERT_TRUE(pat);
  ASSERT_TRUE(status_becomes(chatd(), 1));
  EXPECT_EQ(count_lines(chatd(), "WATCHDOG=1"), 0);
}

TEST_P(Notify, SigtermSendsStoppingThenExitsZero) {
  ASSERT_NO_FATAL_FAILURE(start_with(config()));
  TestClient pat = join("pat");
  ASSERT_TRUE(pat);
  ASSERT_TRUE(chatd().signal(SIGTERM));
  EXPECT_TRUE(chatd().wait_notification("STOPPING=1"));
  const auto status = chatd().wait_exit();
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
      << ChatdProcess::describe_status(*status);
}

TEST_P(Notify, SighupSendsReloadingThenReady) {
  ASSERT_NO_FATAL_FAILURE(start_with(config()));
  const auto before = notification_lines(chatd()).size();
  ASSERT_TRUE(chatd().signal(SIGHUP));
  std::vector<std::string> after;
  const bool done = wait_until([&] {
    const auto lines = notification_lines(chatd());
    after.assign(lines.begin() + static_cast<long>(before), lines.end());
    const auto reloading = std::find(after.begin(), after.end(), "RELOADING=1");
    return reloading != after.end() && std::find(reloading, after.end(), "READY=1") != after.end();
  });
  std::string seen;
  for (const auto& l : after) {
    seen += "  " + l + "\n";
  }
  EXPECT_TRUE(done) << "expected RELOADING=1 then READY=1 after SIGHUP; got:\n" << seen;
  // systemd 253+ requires MONOTONIC_USEC with RELOADING=1 (Type=notify-reload).
  EXPECT_TRUE(std::any_of(after.begin(), after.end(), [](const std::string& l) {
    return l.rfind("MONOTONIC_USEC=", 0) == 0;
  })) << seen;
  // Still serving.
  TestClient pat = join("pat");
  EXPECT_TRUE(pat);
}

INSTANTIATE_TEST_SUITE_P(EventLoop, Notify, ::testing::Values("select", "epoll"),
                         backend_test_name);

}  // namespace
}  // namespace chat::test::svc
