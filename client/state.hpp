// What the receiver learns about the session (room, server caps) that typed commands need.
#pragma once

#include <algorithm>
#include <mutex>
#include <string>
#include <vector>

namespace chat::client {

// Written by the receiver thread, read by the main thread before each command.
class SessionState {
 public:
  struct View {
    std::string room;               // "" until the server says (Part-1 servers never do)
    bool welcomed = false;          // a Part-2 server answered with `welcome`
    bool part1 = false;             // the first packet was not `welcome`: a Part-1 server
    std::vector<std::string> caps;  // what it accepted
  };
  void welcome(std::vector<std::string> caps, std::string room) {
    std::lock_guard lock(mu_);
    view_.welcomed = true;
    view_.caps = std::move(caps);
    view_.room = std::move(room);
  }
  void part1() {
    std::lock_guard lock(mu_);
    view_.part1 = !view_.welcomed;
  }
  void set_room(std::string room) {
    std::lock_guard lock(mu_);
    view_.room = std::move(room);
  }
  View view() const {
    std::lock_guard lock(mu_);
    return view_;
  }

 private:
  mutable std::mutex mu_;
  View view_;
};

}  // namespace chat::client
