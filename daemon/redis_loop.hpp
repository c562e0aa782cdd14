// hiredis's async API on chatd's own event loop: one Redis connection whose
// socket is watched by the EventLoop (hiredis's ev.addRead/delRead/addWrite/
// delWrite/cleanup hooks change what the loop watches), so commands never block
// and every reply, message and disconnect is handled on the loop's thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/event_loop.hpp"

struct redisAsyncContext;
struct redisReply;

namespace chat::daemon {

// Where Redis listens: "unix:/path" or "HOST:PORT" ("[v6]:PORT" too).
struct RedisAddress {
  bool unix_socket = false;
  std::string path;  // unix_socket
  std::string host;
  int port = 0;
  std::string text;  // as given, for logs
  // nullopt if `text` is neither form.
  static std::optional<RedisAddress> parse(std::string_view text);
};

class RedisConnection {
 public:
  // A reply, or null when the connection was lost (or closed) before it came.
  using ReplyFn = std::function<void(const redisReply* reply)>;
  // A message on a subscribed channel: the channel and the payload.
  using MessageFn = std::function<void(std::string_view channel, std::string_view payload)>;
  // Connected (ok), or failed to connect / lost after connecting, with why.
  using StateFn = std::function<void(bool up, const std::string& why)>;

  RedisConnection(EventLoop& loop, std::string name);
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // Starts connecting (never blocks). `on_state` is called once with up=true when
  // connected, then once with up=false when the connection ends; or once with
  // up=false if it could not connect within `timeout`. False (and `why`) if the
  // attempt failed at once; nothing is called then.
  bool connect(const RedisAddress& address, std::chrono::milliseconds timeout, StateFn on_state,
               std::string& why);
  // Queues a command; false if not connected (then `done` is not called).
  // `done` is called exactly once otherwise: with the reply, or with null if the
  // connection goes away first.
  bool command(const std::vector<std::string>& argv, ReplyFn done);
  // SUBSCRIBE to `channels`; each message goes to `on_message`. `on_subscribed`
  // (if any) runs once Redis has confirmed every channel: from then on nothing
  // published on them is missed.
  bool subscribe(const std::vector<std::string>& channels, MessageFn on_message,
                 std::function<void()> on_subscribed = {});
  // Drops the connection; pending replies get null; on_state is not called.
  void close();
  bool connected() const { return ac_ != nullptr && up_; }
  const std::string& name() const { return name_; }

 private:
  static void on_connect(const redisAsyncContext* ac, int status);
  static void on_disconnect(const redisAsyncContext* ac, int status);
  static void on_reply(redisAsyncContext* ac, void* reply, void* privdata);
  static void on_message(redisAsyncContext* ac, void* reply, void* privdata);
  // hiredis's event hooks (privdata: this).
  static void add_read(void* self);
  static void del_read(void* self);
  static void add_write(void* self);
  static void del_write(void* self);
  static void cleanup(void* self);
  void set_interest(unsigned interest);
  void on_ready(unsigned ready);
  // The context is gone (hiredis freed it): forget it and tell the owner once.
  void lost(const std::string& why);

  EventLoop& loop_;
  std::string name_;
  redisAsyncContext* ac_ = nullptr;
  int fd_ = -1;
  bool watched_ = false;
  unsigned interest_ = kNone;
  bool up_ = false;
  bool closing_ = false;
  EventLoop::TimerId connect_timer_ = 0;
  StateFn on_state_;
  MessageFn on_message_;
  std::function<void()> on_subscribed_;
  std::size_t unconfirmed_ = 0;  // channels whose SUBSCRIBE Redis has not confirmed yet
  // Set while `this` lives; handlers and timers check it before touching `this`.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace chat::daemon
