// The nicks the client has seen (join, chat, who...), shared by the receiver and Tab completion.
#pragma once

#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace chat::client {

class NickBook {
 public:
  void add(const std::string& nick) {
    std::lock_guard lock(mu_);
    nicks_.insert(nick);
  }
  void remove(const std::string& nick) {
    std::lock_guard lock(mu_);
    nicks_.erase(nick);
  }
  std::vector<std::string> snapshot() const {
    std::lock_guard lock(mu_);
    return {nicks_.begin(), nicks_.end()};
  }

 private:
  mutable std::mutex mu_;
  std::set<std::string> nicks_;
};

}  // namespace chat::client
