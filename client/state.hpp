// What the receiver learns about the session (room, server caps) that typed commands need.
#pragma once

#include <algorithm>
#include <chrono>
#include <mutex>
#include <optional>
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

  // Lag: a line of ours (chat, emote, dm) went out and the server has not echoed it.
  using Time = std::chrono::steady_clock::time_point;
  void line_sent(Time at) {
    std::lock_guard lock(mu_);
    if (!awaiting_) {
      awaiting_ = at;
    }
  }
  // Our echo (or an error) came back: the lag, if the overdue notice had been shown.
  std::optional<std::chrono::milliseconds> answered(Time now) {
    std::lock_guard lock(mu_);
    std::optional<std::chrono::milliseconds> lag;
    if (awaiting_ && overdue_shown_) {
      lag = std::chrono::duration_cast<std::chrono::milliseconds>(now - *awaiting_);
    }
    awaiting_.reset();
    overdue_shown_ = false;
    return lag;
  }
  // When the overdue notice is due (nothing while not waiting or already shown).
  std::optional<Time> overdue_at(std::chrono::milliseconds after) const {
    std::lock_guard lock(mu_);
    if (!awaiting_ || overdue_shown_) {
      return std::nullopt;
    }
    return *awaiting_ + after;
  }
  void overdue_shown() {
    std::lock_guard lock(mu_);
    overdue_shown_ = true;
  }

 private:
  std::optional<Time> awaiting_;
  bool overdue_shown_ = false;
  mutable std::mutex mu_;
  View view_;
};

}  // namespace chat::client
