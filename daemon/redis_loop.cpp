// The hiredis adapter: hiredis asks for read/write interest through its ev hooks,
// the EventLoop reports readiness, and we hand it back to redisAsyncHandleRead/Write.
#include "daemon/redis_loop.hpp"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <utility>

#include "daemon/log_fields.hpp"

namespace chat::daemon {

std::optional<RedisAddress> RedisAddress::parse(std::string_view text) {
  RedisAddress a;
  a.text = std::string(text);
  if (text.rfind("unix:", 0) == 0) {
    a.unix_socket = true;
    a.path = std::string(text.substr(5));
    if (a.path.empty()) {
      return std::nullopt;
    }
    return a;
  }
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == text.size()) {
    return std::nullopt;
  }
  std::string_view host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const std::string_view port = text.substr(colon + 1);
  int value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || value < 1 || value > 65535 ||
      host.empty()) {
    return std::nullopt;
  }
  a.host = std::string(host);
  a.port = value;
  return a;
}

RedisConnection::RedisConnection(EventLoop& loop, std::string name)
    : loop_(loop), name_(std::move(name)) {}

RedisConnection::~RedisConnection() {
  *alive_ = false;
  close();
}

bool RedisConnection::connect(const RedisAddress& address, std::chrono::milliseconds timeout,
                              StateFn on_state, std::string& why) {
  close();
  redisAsyncContext* ac = address.unix_socket
                              ? redisAsyncConnectUnix(address.path.c_str())
                              : redisAsyncConnect(address.host.c_str(), address.port);
  if (ac == nullptr) {
    why = "out of memory";
    return false;
  }
  if (ac->err != 0) {
    why = ac->errstr;
    redisAsyncFree(ac);
    return false;
  }
  ac_ = ac;
  fd_ = ac->c.fd;
  up_ = false;
  on_state_ = std::move(on_state);
  ac->data = this;
  ac->ev.data = this;
  ac->ev.addRead = &RedisConnection::add_read;
  ac->ev.delRead = &RedisConnection::del_read;
  ac->ev.addWrite = &RedisConnection::add_write;
  ac->ev.delWrite = &RedisConnection::del_write;
  ac->ev.cleanup = &RedisConnection::cleanup;
  redisAsyncSetDisconnectCallback(ac, &RedisConnection::on_disconnect);
  // Asks for write readiness: that is how a finished connect shows.
  redisAsyncSetConnectCallback(ac, &RedisConnection::on_connect);
  connect_timer_ = loop_.add_timer(loop_.now() + timeout, [this, alive = alive_] {
    if (!*alive) {
      return;
    }
    connect_timer_ = 0;
    if (ac_ != nullptr && !up_) {
      close();
      if (on_state_) {
        on_state_(false, "connect timed out");
      }
    }
  });
  return true;
}

void RedisConnection::close() {
  if (connect_timer_ != 0) {
    loop_.cancel_timer(connect_timer_);
    connect_timer_ = 0;
  }
  if (ac_ == nullptr) {
    return;
  }
  redisAsyncContext* ac = ac_;
  ac_ = nullptr;
  up_ = false;
  if (watched_) {
    loop_.remove(fd_);
    watched_ = false;
  }
  interest_ = kNone;
  // Detached first: freeing runs no hook and no callback of ours but the
  // pending replies' (with null).
  ac->data = nullptr;
  ac->ev.addRead = nullptr;
  ac->ev.delRead = nullptr;
  ac->ev.addWrite = nullptr;
  ac->ev.delWrite = nullptr;
  ac->ev.cleanup = nullptr;
  ac->ev.data = nullptr;
  redisAsyncFree(ac);
}

bool RedisConnection::command(const std::vector<std::string>& argv, ReplyFn done) {
  if (!connected()) {
    return false;
  }
  std::vector<const char*> args;
  std::vector<std::size_t> lens;
  args.reserve(argv.size());
  lens.reserve(argv.size());
  for (const auto& a : argv) {
    args.push_back(a.data());
    lens.push_back(a.size());
  }
  auto* fn = new ReplyFn(std::move(done));
  if (redisAsyncCommandArgv(ac_, &RedisConnection::on_reply, fn, static_cast<int>(args.size()),
                            args.data(), lens.data()) != REDIS_OK) {
    delete fn;
    return false;
  }
  return true;
}

bool RedisConnection::subscribe(const std::vector<std::string>& channels, MessageFn on_message,
                                std::function<void()> on_subscribed) {
  if (!connected()) {
    return false;
  }
  on_message_ = std::move(on_message);
  on_subscribed_ = std::move(on_subscribed);
  unconfirmed_ = channels.size();
  std::vector<const char*> args{"SUBSCRIBE"};
  std::vector<std::size_t> lens{9};
  for (const auto& c : channels) {
    args.push_back(c.data());
    lens.push_back(c.size());
  }
  return redisAsyncCommandArgv(ac_, &RedisConnection::on_message, nullptr,
                               static_cast<int>(args.size()), args.data(), lens.data()) == REDIS_OK;
}

void RedisConnection::on_connect(const redisAsyncContext* ac, int status) {
  auto* self = static_cast<RedisConnection*>(ac->data);
  if (self == nullptr) {
    return;
  }
  if (self->connect_timer_ != 0) {
    self->loop_.cancel_timer(self->connect_timer_);
    self->connect_timer_ = 0;
  }
  if (status != REDIS_OK) {
    // hiredis frees the context when this returns (its cleanup hook still runs).
    self->lost(ac->errstr);
    return;
  }
  self->up_ = true;
  if (self->on_state_) {
    self->on_state_(true, "");
  }
}

void RedisConnection::on_disconnect(const redisAsyncContext* ac, int /*status*/) {
  auto* self = static_cast<RedisConnection*>(ac->data);
  if (self != nullptr) {
    self->lost(ac->err != 0 ? ac->errstr : "connection closed");
  }
}

void RedisConnection::lost(const std::string& why) {
  ac_ = nullptr;
  up_ = false;
  if (on_state_) {
    on_state_(false, why);
  }
}

void RedisConnection::on_reply(redisAsyncContext* /*ac*/, void* reply, void* privdata) {
  const std::unique_ptr<ReplyFn> fn(static_cast<ReplyFn*>(privdata));
  if (fn && *fn) {
    (*fn)(static_cast<const redisReply*>(reply));
  }
}

void RedisConnection::on_message(redisAsyncContext* ac, void* reply, void* /*privdata*/) {
  auto* self = static_cast<RedisConnection*>(ac->data);
  const auto* r = static_cast<const redisReply*>(reply);
  if (self == nullptr || r == nullptr || r->type != REDIS_REPLY_ARRAY || r->elements != 3) {
    return;
  }
  const redisReply* kind = r->element[0];
  const redisReply* channel = r->element[1];
  const redisReply* payload = r->element[2];
  if (kind->type == REDIS_REPLY_STRING && std::string_view(kind->str, kind->len) == "subscribe") {
    if (self->unconfirmed_ > 0 && --self->unconfirmed_ == 0 && self->on_subscribed_) {
      const auto then = std::move(self->on_subscribed_);
      self->on_subscribed_ = nullptr;
      then();
    }
    return;
  }
  if (kind->type != REDIS_REPLY_STRING || std::string_view(kind->str, kind->len) != "message" ||
      channel->type != REDIS_REPLY_STRING || payload->type != REDIS_REPLY_STRING) {
    return;
  }
  if (self->on_message_) {
    self->on_message_(std::string_view(channel->str, channel->len),
                      std::string_view(payload->str, payload->len));
  }
}

void RedisConnection::add_read(void* self) {
  auto* c = static_cast<RedisConnection*>(self);
  c->set_interest(c->interest_ | kRead);
}
void RedisConnection::del_read(void* self) {
  auto* c = static_cast<RedisConnection*>(self);
  c->set_interest(c->interest_ & ~static_cast<unsigned>(kRead));
}
void RedisConnection::add_write(void* self) {
  auto* c = static_cast<RedisConnection*>(self);
  c->set_interest(c->interest_ | kWrite);
}
void RedisConnection::del_write(void* self) {
  auto* c = static_cast<RedisConnection*>(self);
  c->set_interest(c->interest_ & ~static_cast<unsigned>(kWrite));
}
void RedisConnection::cleanup(void* self) {
  auto* c = static_cast<RedisConnection*>(self);
  if (c->watched_) {
    c->loop_.remove(c->fd_);
    c->watched_ = false;
  }
  c->interest_ = kNone;
}

void RedisConnection::set_interest(unsigned interest) {
  if (interest == interest_ && watched_) {
    return;
  }
  interest_ = interest;
  if (!watched_) {
    watched_ = loop_.add(fd_, interest_, [this, alive = alive_](unsigned ready) {
      if (*alive) {
        on_ready(ready);
      }
    });
    if (!watched_) {
      spdlog::error("event=redis-error connection={} detail={}", name_,
                    log_value("the event loop cannot watch the Redis socket"));
    }
    return;
  }
  if (!loop_.modify(fd_, interest_)) {
    spdlog::error("event=loop-modify-failed fd={} connection={}", fd_, name_);
  }
}

void RedisConnection::on_ready(unsigned ready) {
  if (ac_ != nullptr && (ready & kRead) != 0) {
    redisAsyncHandleRead(ac_);
  }
  if (ac_ != nullptr && (ready & kWrite) != 0) {
    redisAsyncHandleWrite(ac_);
  }
}

}  // namespace chat::daemon
