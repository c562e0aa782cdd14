// The control commands' view of the running server (ControlBackend over Server).
#pragma once

#include "daemon/control.hpp"
#include "daemon/server.hpp"

namespace chat::daemon {

class ServerControl final : public ControlBackend {
 public:
  ServerControl(Server& server, std::string_view event_loop)
      : server_(server), event_loop_(event_loop) {}

  StatusInfo status() override;
  std::vector<UserInfo> who() override;
  bool kick(std::string_view nick, std::string_view reason) override;
  std::optional<std::size_t> say(std::string_view message) override;
  AccountOutcome account_add(std::string_view nick, const std::string& hash) override;
  AccountOutcome account_passwd(std::string_view nick, const std::string& hash) override;
  AccountOutcome account_del(std::string_view nick) override;
  std::vector<std::string> account_list() override;

 private:
  Server& server_;
  std::string event_loop_;
};

}  // namespace chat::daemon
