// Server: accept, read, decode, hand to the hub, flush queued frames, reap.
#include "daemon/server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

#include <spdlog/spdlog.h>

#include "common/net.hpp"
#include "daemon/logging.hpp"
#include "protocol/codec.hpp"
#include "protocol/frame.hpp"

namespace chat::daemon {
namespace {

// Per-session bounds for one loop wake-up, so one busy client cannot starve others.
constexpr std::size_t kMaxFramesPerWake = 128;
constexpr std::size_t kReadPerWake = std::size_t{128} * 1024;
// Stop reading while this much undecoded input is held: at least one whole frame.
constexpr std::size_t kMaxBufferedInput = 2 * (proto::kHeaderSize + proto::kMaxPayload);
constexpr int kMaxAcceptsPerWake = 64;
// Descriptors kept back from the client limit: refusals in flight, listeners, control socket and
// its clients, the signal pipe, the journal, the reserve fd.
constexpr std::size_t kMaxRejecting = 32;
constexpr std::size_t kFdHeadroom = 32 + kMaxRejecting;
constexpr auto kCloseLinger = std::chrono::seconds(2);
constexpr auto kShutdownDrain = std::chrono::seconds(3);
// How often stalled writers are looked for.
constexpr auto kSweepInterval = std::chrono::seconds(1);
// malloc_trim once this much accounted memory has been freed since the last one.
constexpr std::size_t kTrimAfterFreeing = std::size_t{16} * 1024 * 1024;

// The key the per-address limit counts under: the IPv4 address, or the /64 of an
// IPv6 address (one host usually holds a whole /64). "" if unknown.
std::string address_key(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return {};
  }
  char text[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    const auto& sin = reinterpret_cast<const sockaddr_in&>(ss);
    ::inet_ntop(AF_INET, &sin.sin_addr, text, sizeof text);
    return text;
  }
  if (ss.ss_family == AF_INET6) {
    auto addr = reinterpret_cast<const sockaddr_in6&>(ss).sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(&addr)) {
      in_addr v4{};
      std::memcpy(&v4, addr.s6_addr + 12, sizeof v4);
      ::inet_ntop(AF_INET, &v4, text, sizeof text);
      return text;
    }
    std::memset(addr.s6_addr + 8, 0, 8);
    ::inet_ntop(AF_INET6, &addr, text, sizeof text);
    return std::string(text) + "/64";
  }
  return {};
}

HubConfig hub_config(const Limits& limits) {
  // A newcomer's replay takes at most half its send queue, so it never overflows it.
  HubConfig config;
  config.require_accounts = limits.require_accounts;
  config.allow_plaintext_passwords = limits.allow_plaintext_passwords;
  config.history_size = limits.history;
  config.history_bytes = limits.history_bytes;
  config.replay_bytes = limits.sendq_limit / 2;
  return config;
}

}  // namespace

Server::Server(EventLoop& loop, std::vector<UniqueFd> listeners, Limits limits, Engine* engine)
    : loop_(loop),
      listeners_(std::move(listeners)),
      limits_(limits),
      hub_(*this, hub_config(limits), engine),
      reserve_fd_(::open("/dev/null", O_RDONLY | O_CLOEXEC)),
      started_(loop.now()) {
  max_clients_ = compute_max_clients(limits_.max_clients);
  arm_sweep();
  for (const auto& l : listeners_) {
    const int fd = l.get();
    if (!loop_.add(fd, kRead, [this, fd](unsigned) { on_listener(fd, false); })) {
      throw std::system_error(errno == 0 ? EBADF : errno, std::generic_category(),
                              "cannot watch listening socket fd " + std::to_string(fd));
    }
  }
  verifier_ = std::make_unique<Verifier>(defaults::kMaxPendingVerifications);
  watch_verifier();
  hub_.set_authenticator(this);
}

void Server::watch_verifier() {
  if (!loop_.add(verifier_->wake_fd(), kRead, [this](unsigned) { on_verified(); })) {
    throw std::system_error(errno == 0 ? EBADF : errno, std::generic_category(),
                            "cannot watch the password verifier's wake-up fd");
  }
}

void Server::set_verifier(std::unique_ptr<Verifier> verifier) {
  loop_.remove(verifier_->wake_fd());
  verifier_ = std::move(verifier);
  watch_verifier();
}

Server::~Server() {
  loop_.remove(verifier_->wake_fd());
  for (const auto& [id, s] : sessions_) {
    loop_.remove(s->fd());
    loop_.cancel_timer(s->hello_timer);
    loop_.cancel_timer(s->close_timer);
  }
  loop_.cancel_timer(sweep_timer_);
  loop_.cancel_timer(stop_timer_);
  for (const auto& l : listeners_) {
    loop_.remove(l.get());
  }
  for (const auto& l : tls_listeners_) {
    loop_.remove(l.get());
  }
}

bool Server::add_tls_listeners(std::vector<UniqueFd> listeners, TlsContext context) {
  tls_ = std::move(context);
  for (auto& l : listeners) {
    const int fd = l.get();
    if (!loop_.add(fd, kRead, [this, fd](unsigned) { on_listener(fd, true); })) {
      return false;
    }
    tls_listeners_.push_back(std::move(l));
  }
  return true;
}

void Server::set_tls_context(TlsContext context) {
  tls_ = std::move(context);
}

std::size_t Server::compute_max_clients(std::size_t requested) const {
  rlimit rl{};
  std::size_t fds = static_cast<std::size_t>(loop_.fd_limit());
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
    fds = std::min<std::size_t>(fds, rl.rlim_cur);
  }
  const std::size_t avail = fds > kFdHeadroom + 1 ? fds - kFdHeadroom : 1;
  return requested == 0 ? avail : std::min(requested, avail);
}

void Server::set_limits(Limits limits) {
  // Connections still waiting for their hello get the new timeout too, counted
  // from when they connected; one already past expires on the next iteration.
  const bool hello_changed = limits.hello_timeout != limits_.hello_timeout;
  limits_ = limits;
  if (hello_changed) {
    for (auto& [id, s] : sessions_) {
      if (loop_.cancel_timer(s->hello_timer)) {
        arm_hello(*s);
      }
    }
  }
  max_clients_ = compute_max_clients(limits_.max_clients);
  hub_.set_config(hub_config(limits_));
}

std::chrono::seconds Server::uptime() const {
  return std::chrono::duration_cast<std::chrono::seconds>(now() - started_);
}

const Session* Server::session(SessionId id) const {
  const auto it = sessions_.find(id);
  return it == sessions_.end() ? nullptr : it->second.get();
}

void Server::on_listener(int fd, bool tls) {
  for (int i = 0; i < kMaxAcceptsPerWake; ++i) {
    UniqueFd client(::accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!client) {
      if (errno == EMFILE || errno == ENFILE) {
        // Out of descriptors: free the reserve to take the connection off the
        // backlog and refuse it, so the listener does not stay readable forever.
        reserve_fd_.reset();
        UniqueFd refused(::accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
        if (refused && tls) {
          ++counters_.refusals;  // no handshake spent on a refusal: closed without a word
        } else if (refused) {
          ++counters_.refusals;
          const Frame frame =
              error_frame(proto::ErrorCode::kServerFull, "server is out of descriptors");
          (void)::send(refused.get(), frame.data(), frame.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        }
        refused.reset();
        reserve_fd_.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
        spdlog::error("event=accept-failed reason=out-of-descriptors clients={}", client_count());
        return;
      }
      if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) {
        continue;
      }
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        spdlog::error("event=accept-failed error={}", log_value(std::strerror(errno)));
      }
      return;
    }
    if (client_count() >= max_clients_) {
      reject_full(std::move(client), "the server is full, try later", tls);
    } else if (over_address_limit(client.get())) {
      reject_full(std::move(client), "too many connections from your address", tls);
    } else {
      accept_one(std::move(client), tls);
    }
  }
}

bool Server::over_address_limit(int fd) const {
  if (limits_.max_per_address == 0) {
    return false;
  }
  const auto it = per_address_.find(address_key(fd));
  return it != per_address_.end() && it->second >= limits_.max_per_address;
}

void Server::reject_full(UniqueFd client, std::string_view message, bool tls) {
  const std::string peer = net::peer_name(client.get());
  ++counters_.refusals;
  spdlog::warn("event=reject code=server-full peer={} clients={} max_clients={} detail={}{}", peer,
               client_count(), max_clients_, log_value(message), tls ? " transport=tls" : "");
  if (tls) {
    // A refusal over TLS would cost a handshake, the very thing a flood of
    // connections wants from us: closed without a word (PROTOCOL-DECISIONS 40).
    return;
  }
  const SessionId id = sessions_.allocate();
  auto s = std::make_unique<Session>(id, std::move(client), peer);
  const int fd = s->fd();
  if (rejecting_ >= kMaxRejecting ||
      !loop_.add(fd, kNone, [this, id](unsigned ready) { on_session(id, ready); })) {
    sessions_.release(id);
    // No room to see the refusal through: say it once, best effort, and close.
    const Frame frame = error_frame(proto::ErrorCode::kServerFull, message);
    (void)::send(fd, frame.data(), frame.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    ::shutdown(fd, SHUT_WR);
    return;  // the session's destructor closes the socket
  }
  // A short-lived session: error, flush, half-close, drain, so the error is read
  // before the close rather than lost to a reset.
  s->counted = false;
  ++rejecting_;
  s->enqueue(error_frame(proto::ErrorCode::kServerFull, message), now());
  Session& ref = *s;
  sessions_.emplace(id, std::move(s));
  begin_close(ref, now() + kCloseLinger);
}

void Server::accept_one(UniqueFd client, bool tls) {
  const int one = 1;
  ::setsockopt(client.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  const SessionId id = sessions_.allocate();
  std::string peer = net::peer_name(client.get());
  auto s = std::make_unique<Session>(id, std::move(client), peer);
  if (tls && (!tls_ || !s->start_tls(tls_->ctx.get()))) {
    spdlog::error("event=reject reason=tls-setup-failed peer={} detail={}", peer,
                  log_value(s->tls_error()));
    return;
  }
  if (!loop_.add(s->fd(), kRead, [this, id](unsigned ready) { on_session(id, ready); })) {
    sessions_.release(id);
    spdlog::error("event=reject reason=fd-over-event-loop-limit fd={} peer={}", s->fd(), peer);
    return;
  }
  s->interest = kRead;
  s->address = address_key(s->fd());
  ++per_address_[s->address];
  s->tokens = limits_.flood_burst;
  s->byte_tokens = limits_.flood_bytes_burst;
  s->refilled = loop_.woke();
  s->accepted = loop_.woke();
  spdlog::debug("event=connect session={} peer={}{}", log_id(id), peer,
                tls ? " transport=tls" : "");
  Session& ref = *s;
  sessions_.emplace(id, std::move(s));
  if (tls) {
    ++tls_clients_;
  }
  hub_.connect(id, std::move(peer), tls ? Transport::kTls : Transport::kPlain);
  arm_hello(ref);
}

void Server::arm_hello(Session& s) {
  const SessionId id = s.id();
  s.hello_timer = loop_.add_timer(s.accepted + limits_.hello_timeout, [this, id] {
    const auto it = sessions_.find(id);
    if (it == sessions_.end()) {
      return;
    }
    it->second->hello_timer = 0;
    if (it->second->state() == Session::State::kOpen && it->second->tls_handshaking()) {
      // No TLS session yet, so no way to say why: closed at once.
      spdlog::info("event=tls-handshake-timeout session={} peer={}", log_id(id),
                   it->second->peer());
      end_session(*it->second, "hello-timeout");
      return;
    }
    if (it->second->state() == Session::State::kOpen && !hub_.joined(id)) {
      hub_.close_with_error(id, proto::ErrorCode::kHelloTimeout, "no hello in time",
                            "hello-timeout");
    }
  });
}

void Server::arm_sweep() {
  sweep_timer_ = loop_.add_timer(loop_.now() + kSweepInterval, [this] {
    check_stalls(loop_.now());
    arm_sweep();
  });
}

void Server::on_session(SessionId id, unsigned ready) {
  const auto it = sessions_.find(id);
  if (it == sessions_.end()) {
    return;
  }
  Session& s = *it->second;
  if (s.tls()) {
    // OpenSSL may need the other direction first (WANT_READ on a write,
    // WANT_WRITE on a read); the readiness it waited for serves both.
    if ((ready & kRead) != 0 && s.tls_write_wants_read()) {
      ready |= kWrite;
    }
    if ((ready & kWrite) != 0 && s.tls_read_wants_write()) {
      ready |= kRead;
    }
  }
  if ((ready & kWrite) != 0 && s.state() != Session::State::kDead) {
    const auto before = s.bytes_out;
    const auto r = s.flush(loop_.woke());
    totals_.bytes_out += s.bytes_out - before;
    if (r == Session::IoResult::kError) {
      end_session(s, "write-error");
      return;
    }
    if (s.state() == Session::State::kClosing && !s.has_output()) {
      s.start_draining();
    }
    update_interest(s);
  }
  if ((ready & kRead) == 0) {
    return;
  }
  switch (s.state()) {
    case Session::State::kOpen: {
      if (s.input().buffered() >= kMaxBufferedInput) {
        break;  // frames still pending; the loop comes back without new input
      }
      const auto before = s.bytes_in;
      const auto r = s.read_some(kReadPerWake);
      totals_.bytes_in += s.bytes_in - before;
      process_input(s);
      account_input(s);
      note_tls_pending(s);
      if (r == Session::IoResult::kError && s.tls() && s.state() == Session::State::kOpen) {
        spdlog::info("event=tls-error session={} peer={} handshake={} detail={}", log_id(id),
                     s.peer(), s.tls_handshaking() ? "incomplete" : "done",
                     log_value(s.tls_error()));
      }
      if (s.state() == Session::State::kOpen &&
          (r == Session::IoResult::kEof || r == Session::IoResult::kError)) {
        if (r == Session::IoResult::kEof && s.input().buffered() > 0 && !s.pending_input) {
          spdlog::debug("event=partial-frame session={} bytes={}", log_id(id),
                        s.input().buffered());
        }
        if (!s.pending_input) {
          end_session(s, r == Session::IoResult::kEof ? "eof" : "reset");
        } else {
          // Frames are left; finish them next iteration, then see the EOF again.
          update_interest(s);
        }
      }
      break;
    }
    case Session::State::kClosing:
    case Session::State::kDraining: {
      const auto r = s.discard_input();
      if (r == Session::IoResult::kEof || r == Session::IoResult::kError) {
        bury(s);
      }
      break;
    }
    case Session::State::kDead:
      break;
  }
}

void Server::process_input(Session& s) {
  std::size_t frames = 0;
  std::string_view payload;
  while (s.state() == Session::State::kOpen) {
    if (hub_.verifying(s.id())) {
      // What follows a hello waits until the hello is decided (on_verified
      // brings the session back here).
      break;
    }
    if (frames == kMaxFramesPerWake) {
      if (!s.pending_input) {
        s.pending_input = true;
        pending_input_.push_back(s.id());
      }
      break;
    }
    const auto status = s.input().next(payload);
    if (status == proto::FrameDecoder::Status::kNeedMore) {
      break;
    }
    if (status == proto::FrameDecoder::Status::kEmptyFrame) {
      hub_.reject_frame(s.id());
      break;
    }
    ++frames;
    if (!take_tokens(s, proto::kHeaderSize + payload.size(), loop_.woke())) {
      ++counters_.floods;
      spdlog::warn("event=flood session={} peer={} rate={} burst={} bytes_rate={} bytes_burst={}",
                   log_id(s.id()), s.peer(), limits_.flood_rate, limits_.flood_burst,
                   limits_.flood_bytes_rate, limits_.flood_bytes_burst);
      hub_.close_with_error(s.id(), proto::ErrorCode::kFlood,
                            "you are sending too fast; the connection is closed", "flood");
      break;
    }
    ++s.messages_in;
    ++totals_.messages_in;
    hub_.receive(s.id(), payload);
  }
  update_interest(s);
}

bool Server::registered(std::string_view nick) const {
  return accounts_.find(nick) != nullptr;
}

double Server::auth_tokens(const std::string& address, Clock::time_point now) {
  const auto rate = 1.0 / defaults::kAuthFailureEverySeconds;
  auto [it, fresh] = auth_buckets_.try_emplace(address);
  AuthBucket& b = it->second;
  if (fresh) {
    b.refilled = now;
  }
  const double elapsed = std::chrono::duration<double>(now - b.refilled).count();
  b.tokens = std::min(defaults::kAuthFailureBurst, b.tokens + elapsed * rate);
  b.refilled = now;
  return b.tokens;
}

Authenticator::Start Server::start_verify(SessionId id, std::string_view nick,
                                          std::string password) {
  const Account* account = accounts_.find(nick);
  const auto it = sessions_.find(id);
  if (account == nullptr || it == sessions_.end()) {
    return Start::kBusy;  // cannot happen: the hub asked registered() just now
  }
  const std::string& address = it->second->address;
  // Only failures spend tokens; a connection makes one attempt, and there are at
  // most --max-per-address of them from one address at a time.
  if (auth_tokens(address, loop_.woke()) < 1.0) {
    spdlog::warn("event=auth-throttled session={} peer={} address={}", log_id(id),
                 it->second->peer(), log_value(address));
    return Start::kThrottled;
  }
  if (!verifier_->submit(id, account->hash, std::move(password))) {
    spdlog::warn("event=auth-busy session={} peer={} outstanding={}", log_id(id),
                 it->second->peer(), verifier_->outstanding());
    return Start::kBusy;
  }
  verifying_[id] = address;
  return Start::kStarted;
}

void Server::on_verified() {
  for (const auto& r : verifier_->take_results()) {
    const auto v = verifying_.find(r.id);
    if (v == verifying_.end()) {
      continue;
    }
    if (!r.ok) {
      auth_tokens(v->second, loop_.woke());
      auth_buckets_[v->second].tokens -= 1.0;
    }
    verifying_.erase(v);
    hub_.auth_result(r.id, r.ok);
    // Input that arrived while the hello was checked is handled now.
    const auto it = sessions_.find(r.id);
    if (it != sessions_.end() && it->second->state() == Session::State::kOpen &&
        !it->second->pending_input) {
      it->second->pending_input = true;
      pending_input_.push_back(r.id);
    }
  }
  // Forget addresses whose bucket is full again, so the table stays small.
  if (auth_buckets_.size() > 1024) {
    for (auto it = auth_buckets_.begin(); it != auth_buckets_.end();) {
      if (auth_tokens(it->first, loop_.woke()) >= defaults::kAuthFailureBurst) {
        it = auth_buckets_.erase(it);
      } else {
        ++it;
      }
    }
  }
}

bool Server::take_tokens(Session& s, std::size_t bytes, Clock::time_point now) {
  // Two buckets: packets (a typist's pace) and bytes (a paster's volume). A
  // packet passes only if both have room; neither is charged otherwise.
  const double elapsed = std::chrono::duration<double>(now - s.refilled).count();
  s.refilled = now;
  const bool packets = limits_.flood_rate > 0;
  const bool volume = limits_.flood_bytes_rate > 0;
  if (packets) {
    s.tokens = std::min(limits_.flood_burst, s.tokens + elapsed * limits_.flood_rate);
  }
  if (volume) {
    s.byte_tokens =
        std::min(limits_.flood_bytes_burst, s.byte_tokens + elapsed * limits_.flood_bytes_rate);
  }
  const auto cost = static_cast<double>(bytes);
  if ((packets && s.tokens < 1.0) || (volume && s.byte_tokens < cost)) {
    return false;
  }
  if (packets) {
    s.tokens -= 1.0;
  }
  if (volume) {
    s.byte_tokens -= cost;
  }
  return true;
}

void Server::account_input(Session& s) {
  const std::size_t now_held = s.input().buffered();
  input_bytes_ = input_bytes_ - s.accounted_input + now_held;
  s.accounted_input = now_held;
}

void Server::send(SessionId id, const Frame& frame) {
  const auto it = sessions_.find(id);
  if (it == sessions_.end()) {
    return;
  }
  Session& s = *it->second;
  if (s.state() != Session::State::kOpen && s.state() != Session::State::kClosing) {
    return;
  }
  if (s.has_output() && s.queued_bytes() + frame.size() > limits_.sendq_limit) {
    // Before calling the reader slow, give the kernel what is queued: a burst
    // handled in one wake-up can pass the limit for a reader that keeps up.
    const auto before = s.bytes_out;
    const auto r = s.flush(loop_.woke());
    totals_.bytes_out += s.bytes_out - before;
    if (r == Session::IoResult::kError) {
      s.drop_output();
    }
  }
  if (s.has_output() && s.queued_bytes() + frame.size() > limits_.sendq_limit) {
    // A slow reader: drop it alone. The hub hears of it after the current
    // broadcast, never in the middle of one.
    ++counters_.slow_consumers;
    spdlog::warn("event=slow-consumer session={} peer={} sendq_bytes={} limit={}", log_id(id),
                 s.peer(), s.queued_bytes(), limits_.sendq_limit);
    drop(s, "sendq-limit");
    return;
  }
  if (!s.enqueue(frame, loop_.woke())) {
    return;
  }
  ++totals_.messages_out;
  mark_dirty(s);
}

void Server::close(SessionId id, std::string_view reason) {
  const auto it = sessions_.find(id);
  if (it == sessions_.end()) {
    return;
  }
  Session& s = *it->second;
  if (s.state() == Session::State::kOpen) {
    spdlog::debug("event=closing session={} reason={}", log_id(id), log_value(reason));
    begin_close(s, now() + kCloseLinger);
  }
}

void Server::begin_close(Session& s, Clock::time_point deadline) {
  if (s.start_closing(deadline)) {
    const SessionId id = s.id();
    s.close_timer = loop_.add_timer(deadline, [this, id] {
      const auto it = sessions_.find(id);
      if (it == sessions_.end()) {
        return;
      }
      it->second->close_timer = 0;
      spdlog::debug("event=close-timeout session={}", log_id(id));
      bury(*it->second);
    });
    mark_dirty(s);
  }
}

void Server::bury(Session& s) {
  if (s.kill()) {
    loop_.cancel_timer(s.hello_timer);
    loop_.cancel_timer(s.close_timer);
    dead_.push_back(s.id());
  }
}

void Server::drop(Session& s, std::string_view reason) {
  // Safe inside a broadcast: the output goes at once, the hub is told later
  // (handle_overflows), and the session is reaped at the end of the iteration.
  s.drop_output();
  if (s.state() == Session::State::kOpen) {
    overflowed_.push_back({s.id(), std::string(reason)});
  }
  bury(s);
}

void Server::note_tls_pending(Session& s) {
  if (s.tls() && s.state() == Session::State::kOpen && !s.pending_input &&
      s.input().buffered() < kMaxBufferedInput && s.tls_pending()) {
    tls_pending_.push_back(s.id());
  }
}

void Server::mark_dirty(Session& s) {
  if (!s.dirty) {
    s.dirty = true;
    dirty_.push_back(s.id());
  }
}

void Server::update_interest(Session& s) {
  // A dirty session is flushed at the end of this iteration, which sets its interest
  // again: asking for write readiness now would cost two epoll_ctl calls per message.
  const bool wants_write = s.has_output() && !s.dirty;
  unsigned want = kNone;
  switch (s.state()) {
    case Session::State::kOpen:
      if (s.input().buffered() < kMaxBufferedInput) {
        want |= kRead;
      }
      if (wants_write) {
        want |= kWrite;
      }
      break;
    case Session::State::kClosing:
      want = wants_write ? kWrite : kNone;
      break;
    case Session::State::kDraining:
      want = kRead;
      break;
    case Session::State::kDead:
      break;
  }
  if (s.tls() && (s.state() == Session::State::kOpen || s.state() == Session::State::kClosing)) {
    // OpenSSL waits for the other direction: watch that one instead, or a
    // ready socket would wake the loop again and again for the same answer.
    if (s.tls_write_wants_read()) {
      want = (want & ~unsigned{kWrite}) | kRead;
    }
    if (s.tls_read_wants_write()) {
      want = (want & ~unsigned{kRead}) | kWrite;
    }
  }
  if (want != s.interest) {
    if (!loop_.modify(s.fd(), want)) {
      // The kernel refused the change: the session could never be served again.
      spdlog::error("event=loop-modify-failed session={} error={}", log_id(s.id()),
                    log_value(std::strerror(errno)));
      end_session(s, "event-loop-error");
      return;
    }
    s.interest = want;
  }
}

void Server::end_session(Session& s, std::string_view reason) {
  if (s.state() == Session::State::kOpen) {
    hub_.disconnect(s.id(), reason);
  }
  bury(s);
}

void Server::flush_dirty() {
  // Index loop: a failed write ends a session, whose leave may dirty others.
  for (std::size_t i = 0; i < dirty_.size(); ++i) {
    const auto it = sessions_.find(dirty_[i]);
    if (it == sessions_.end()) {
      continue;
    }
    Session& s = *it->second;
    s.dirty = false;
    if (s.state() == Session::State::kDead || s.state() == Session::State::kDraining) {
      continue;
    }
    const auto before = s.bytes_out;
    const auto r = s.flush(loop_.woke());
    totals_.bytes_out += s.bytes_out - before;
    if (r == Session::IoResult::kError) {
      end_session(s, "write-error");
      continue;
    }
    if (s.state() == Session::State::kClosing && !s.has_output()) {
      s.start_draining();
    }
    update_interest(s);
  }
  dirty_.clear();
}

void Server::handle_overflows() {
  while (!overflowed_.empty()) {
    std::vector<Overflow> batch;
    batch.swap(overflowed_);
    for (const auto& [id, reason] : batch) {
      hub_.disconnect(id, reason);
    }
  }
}

std::size_t Server::accounted_bytes() const {
  // Frames are counted once however many queues share them; history is kept as
  // frames, so live frames cover queued output and history together.
  return Frame::live_bytes() + input_bytes_;
}

void Server::enforce_budget() {
  if (limits_.memory_budget == 0 || accounted_bytes() <= limits_.memory_budget) {
    return;
  }
  // The sessions holding most (queued output + unparsed input) go first: an
  // attacker who makes the daemon hold memory is the one holding it.
  std::vector<std::pair<std::size_t, Session*>> holders;
  for (auto& [id, s] : sessions_) {
    const std::size_t held = s->queued_bytes() + s->input().buffered();
    if (s->state() != Session::State::kDead && held > 0) {
      holders.emplace_back(held, s.get());
    }
  }
  std::sort(holders.begin(), holders.end(),
            [](const auto& a, const auto& b) { return a.first > b.first; });
  for (const auto& [held, s] : holders) {
    if (accounted_bytes() <= limits_.memory_budget) {
      break;
    }
    ++counters_.budget_drops;
    spdlog::warn(
        "event=memory-budget session={} peer={} held_bytes={} accounted_bytes={} "
        "budget={}",
        log_id(s->id()), s->peer(), held, accounted_bytes(), limits_.memory_budget);
    if (s->input().buffered() > 0) {
      s->input() = proto::FrameDecoder();  // its unparsed input goes with it
      account_input(*s);
    }
    drop(*s, "memory-budget");
  }
  // What is left over the budget is history (sessions' frames are gone or shared
  // with it): shed the largest rooms' oldest lines.
  while (accounted_bytes() > limits_.memory_budget && hub_.shed_history()) {
  }
}

void Server::check_stalls(Clock::time_point now) {
  if (limits_.stall_timeout.count() <= 0) {
    return;
  }
  for (auto& [id, s] : sessions_) {
    if (s->state() == Session::State::kOpen && s->has_output() &&
        now - s->output_progress() >= limits_.stall_timeout) {
      ++counters_.stalls;
      spdlog::warn("event=stalled session={} peer={} sendq_bytes={} stall_timeout_ms={}",
                   log_id(id), s->peer(), s->queued_bytes(), limits_.stall_timeout.count());
      drop(*s, "stalled");
    }
  }
}

void Server::give_back_memory() {
  // After an attack the allocator keeps the freed pages; hand them back once a
  // large amount is gone, so an attack does not leave the daemon bigger.
  const std::size_t held = accounted_bytes();
  peak_since_trim_ = std::max(peak_since_trim_, held);
  if (peak_since_trim_ > held + kTrimAfterFreeing) {
    ::malloc_trim(0);
    peak_since_trim_ = held;
  }
}

void Server::reap() {
  for (const SessionId id : dead_) {
    const auto it = sessions_.find(id);
    if (it == sessions_.end()) {
      continue;
    }
    loop_.remove(it->second->fd());
    input_bytes_ -= it->second->accounted_input;
    if (it->second->tls()) {
      --tls_clients_;
    }
    if (!it->second->counted) {
      --rejecting_;
    } else if (const auto a = per_address_.find(it->second->address); a != per_address_.end()) {
      if (--a->second == 0) {
        per_address_.erase(a);
      }
    }
    sessions_.erase(it);
  }
  dead_.clear();
}

void Server::stop() {
  if (stopping_) {
    return;
  }
  stopping_ = true;
  const auto stop_deadline = now() + kShutdownDrain;
  stop_timer_ = loop_.add_timer(stop_deadline, [this] {
    stop_timer_ = 0;
    drain_expired_ = true;
  });
  for (auto& l : listeners_) {
    loop_.remove(l.get());
  }
  listeners_.clear();
  for (auto& l : tls_listeners_) {
    loop_.remove(l.get());
  }
  tls_listeners_.clear();
  hub_.say("server shutting down");
  for (auto& [id, s] : sessions_) {
    begin_close(*s, stop_deadline);
  }
  spdlog::info("event=shutdown clients={}", client_count());
}

void Server::run() {
  while (step(std::nullopt)) {
  }
}

bool Server::step(std::optional<std::chrono::milliseconds> max_wait) {
  // Input left over from the last iteration (a session that sent more than one
  // iteration handles) is served without waiting; otherwise the loop's timers
  // bound the wait, and nothing else does.
  auto timeout = pending_input_.empty() && tls_pending_.empty() ? std::chrono::milliseconds(-1)
                                                                : std::chrono::milliseconds(0);
  if (max_wait && (timeout.count() < 0 || *max_wait < timeout)) {
    timeout = *max_wait;
  }
  if (!loop_.run_once(timeout)) {
    spdlog::error("event=loop-failed error={}", log_value(std::strerror(errno)));
    return false;
  }
  std::vector<SessionId> pending;
  pending.swap(pending_input_);
  for (const SessionId id : pending) {
    const auto it = sessions_.find(id);
    if (it != sessions_.end()) {
      it->second->pending_input = false;
      process_input(*it->second);
      account_input(*it->second);
      note_tls_pending(*it->second);
    }
  }
  // TLS input already decrypted inside OpenSSL: read it as if the socket said so.
  std::vector<SessionId> tls_ready;
  tls_ready.swap(tls_pending_);
  for (const SessionId id : tls_ready) {
    on_session(id, kRead);
  }
  do {
    handle_overflows();
    flush_dirty();
    enforce_budget();
  } while (!overflowed_.empty());
  hub_.engine().flush();
  reap();
  give_back_memory();
  if (on_census_changed_ &&
      (client_count() != reported_clients_ || hub_.room_count() != reported_rooms_)) {
    reported_clients_ = client_count();
    reported_rooms_ = hub_.room_count();
    on_census_changed_();
  }
  if (stopping_) {
    if (sessions_.empty()) {
      return false;
    }
    if (drain_expired_) {
      spdlog::warn("event=shutdown-timeout unflushed_sessions={}", sessions_.size());
      return false;
    }
  }
  return true;
}

void Server::adopt(UniqueFd client) {
  if (client_count() >= max_clients_) {
    reject_full(std::move(client), "the server is full, try later");
  } else {
    accept_one(std::move(client));
  }
}

}  // namespace chat::daemon
