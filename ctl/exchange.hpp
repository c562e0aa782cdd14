// One request/reply exchange with chatd's control socket under a single deadline.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace chat::ctl {

struct ExchangeResult {
  int exit_code = 0;  // kExitOk when `reply` holds the reply payload
  std::string reply;  // the reply payload (JSON), unframed
  std::string error;  // for people, when exit_code is not kExitOk
};

// Connects to `socket_path`, sends `request` as one frame and reads one reply
// frame. `timeout` covers connect, send and receive together.
ExchangeResult exchange(const std::string& socket_path, std::string_view request,
                        std::chrono::milliseconds timeout);

}  // namespace chat::ctl
