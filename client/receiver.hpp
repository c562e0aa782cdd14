// The receiver thread: reads frames from the server and turns them into display lines.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>

#include "client/connection.hpp"
#include "client/nick_book.hpp"
#include "client/screen.hpp"
#include "client/state.hpp"

namespace chat::client {

// Why the connection ended, as the receiver saw it.
enum class CloseReason {
  kNone,      // still open
  kClosed,    // the server closed it (or reset it)
  kRejected,  // an error packet, then the close: nick refused, server full, kicked...
  kProtocol,  // the server broke the framing (N = 0)
};

class Receiver {
 public:
  // `on_close` runs on the receiver thread once the connection has ended, unless
  // stop() was called first.
  // Nicks seen in packets go to `nicks` (Tab completion).
  // What the server tells about the session (welcome, room) goes to `state`.
  Receiver(Connection& conn, std::string nick, Display& display, NickBook& nicks,
           SessionState& state, std::function<void()> on_close);
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;
  ~Receiver();

  // After a reconnect: once welcomed, enter `room` again (unless it is the lobby
  // the server puts us in). Call before start().
  void rejoin(std::string room) { rejoin_ = std::move(room); }
  void start();
  // The user is leaving: no "connection closed" line from now on.
  void expect_close() { quiet_ = true; }
  // Interrupts the connection (which wakes the blocking read) and joins the thread.
  void stop();
  // Valid after stop().
  CloseReason reason() const { return reason_; }
  // The code of the last error packet received ("nick-taken"...); valid after stop().
  const std::string& last_error_code() const { return last_error_code_; }

 private:
  void run();
  void handle(std::string_view payload);
  // Room and nick bookkeeping a packet implies.
  void track(const proto::ServerPacket& packet);
  // Whether `packet` shows the server answered a line of ours (see SessionState lag).
  bool is_answer(const proto::ServerPacket& packet) const;
  // Time stamp and mention/DM alert of a rendered line.
  void annotate(const proto::ServerPacket& packet, Line& line) const;

  Connection& conn_;
  std::string nick_;  // ours, as the server's welcome confirms it; receiver thread only
  Display& display_;
  NickBook& nicks_;
  SessionState& state_;
  std::function<void()> on_close_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> quiet_{false};
  CloseReason reason_ = CloseReason::kNone;  // written by the thread, read after join
  bool last_was_error_ = false;
  std::string last_error_code_;
  bool first_packet_ = true;
  std::string rejoin_;
};

}  // namespace chat::client
