// GoogleTest fixture running the real chatd per test, parameterised by event-loop backend.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/support/chatd_process.hpp"
#include "tests/support/test_client.hpp"

#ifndef CHATD_PATH
#error "CHATD_PATH must name the chatd binary (target_compile_definitions)"
#endif

namespace chat::test {

// Each test calls start_chatd() with the options it needs. TearDown() stops chatd
// with SIGTERM and requires exit status 0; chatd's stderr is printed if the test failed.
// Use as TEST_P(ChatdTest, ...) with INSTANTIATE_TEST_SUITE_P over backend names
// (an empty name leaves --event-loop out).
class ChatdTest : public ::testing::TestWithParam<std::string> {
 protected:
  // Starts chatd with `args` (see ChatdConfig for "@DIR@"); the control socket is
  // disabled unless `control_socket` is true (then pass --control-socket yourself).
  void start_chatd(std::vector<std::string> args = {}, bool control_socket = false) {
    ChatdConfig config;
    config.binary = CHATD_PATH;
    config.event_loop = GetParam();
    config.args = std::move(args);
    config.disable_control_socket = !control_socket;
    std::string error;
    chatd_ = ChatdProcess::start(config, error);
    ASSERT_NE(chatd_, nullptr) << error;
  }

  void TearDown() override {
    if (chatd_ == nullptr) {
      return;
    }
    if (!chatd_->exited()) {
      const auto status = chatd_->terminate();
      // EXPECT, not ASSERT: the log below is what says why.
      EXPECT_TRUE(status.has_value()) << "chatd did not exit within the deadline after SIGTERM";
      if (status) {
        EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
            << "chatd: " << ChatdProcess::describe_status(*status);
      }
    }
    if (HasFailure()) {
      std::cerr << "---- chatd output (" << GetParam() << ") ----\n"
                << chatd_->log() << "---- end of chatd output ----\n";
    }
  }

  ChatdProcess& chatd() { return *chatd_; }
  std::uint16_t port() const { return chatd_->port(); }

  TestClient connect(int rcvbuf = 0) { return TestClient::connect(chatd_->port(), rcvbuf); }
  // A joined legacy client; fails the test (non-fatally: check the result) on error.
  TestClient join(std::string_view nick) {
    std::string error;
    TestClient c = join_as(chatd_->port(), nick, error);
    EXPECT_TRUE(c) << error;
    return c;
  }

  std::unique_ptr<ChatdProcess> chatd_;
};

// Test name suffix: the backend name.
inline std::string backend_test_name(const ::testing::TestParamInfo<std::string>& info) {
  return info.param.empty() ? std::string("default") : info.param;
}

}  // namespace chat::test
