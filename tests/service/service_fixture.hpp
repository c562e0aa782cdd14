// ChatdTest with the whole ChatdConfig in reach (env, extra sockets, control socket) and a temp
// dir.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/service/service_support.hpp"
#include "tests/support/chatd_fixture.hpp"

namespace chat::test::svc {

// Same lifecycle as ChatdTest (SIGTERM at the end, exit 0 required, chatd's output
// printed on failure); start_with() takes a full ChatdConfig.
class ServiceTest : public ChatdTest {
 protected:
  // A config for this test's backend. chatd never reads /etc/chatd/chatd.conf here:
  // every run names a config file in the test's own directory.
  ChatdConfig config(std::vector<std::string> args = {}) {
    ChatdConfig c;
    c.binary = CHATD_PATH;
    c.event_loop = GetParam();
    c.args = {"--log-target=stderr", "--config=" + config_path()};
    c.args.insert(c.args.end(), args.begin(), args.end());
    return c;
  }
  void start_with(const ChatdConfig& c) {
    std::string error;
    chatd_ = ChatdProcess::start(c, error);
    ASSERT_NE(chatd_, nullptr) << error;
  }
  // The config file passed with --config (empty unless the test writes it).
  std::string config_path() {
    if (config_path_.empty()) {
      config_path_ = tmp_.write("chatd.conf", "");
    }
    return config_path_;
  }
  // Replaces the config file's text (before the start, or before a SIGHUP).
  void write_config(const std::string& text) { config_path_ = tmp_.write("chatd.conf", text); }

  TempDir tmp_;
  std::string config_path_;
};

}  // namespace chat::test::svc
