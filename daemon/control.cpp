// Control socket server: accept, per-connection framing and limits, access check, commands.
#include "daemon/control.hpp"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <system_error>

#include <fmt/format.h>

#include "common/net.hpp"
#include "daemon/log_fields.hpp"

namespace chat::daemon {
namespace {

namespace result = proto::control_result;

constexpr std::size_t kReadChunk = std::size_t{16} * 1024;
constexpr int kAcceptsPerWakeup = 16;
constexpr int kListenBacklog = 16;
constexpr auto kAcceptPause = std::chrono::seconds(1);

std::string errno_text(int err) {
  return std::strerror(err);
}

// The peer's supplementary groups when it connected (SO_PEERGROUPS, Linux 4.13).
std::vector<gid_t> peer_groups(int fd) {
  std::vector<gid_t> groups(64);
  for (int attempt = 0; attempt < 3; ++attempt) {
    socklen_t len = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &len) == 0) {
      groups.resize(len / sizeof(gid_t));
      return groups;
    }
    if (errno != ERANGE) {
      break;
    }
    groups.resize(len / sizeof(gid_t) + 1);
  }
  return {};
}

// True if a connection's socket has been hung up or has an error pending; used
// when it is not being read but the loop reports it readable.
bool hung_up(int fd) {
  pollfd p{fd, 0, 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR | POLLNVAL)) != 0;
}

}  // namespace

ControlServer::ControlServer(EventLoop& loop, ControlBackend& backend, UniqueFd listening_fd,
                             std::optional<gid_t> admin_group, std::optional<gid_t> read_group)
    : loop_(loop),
      backend_(backend),
      listen_fd_(std::move(listening_fd)),
      admin_group_(admin_group),
      read_group_(read_group) {
  for (const auto& command : proto::control_commands()) {
    if (control_handler(command.name) == nullptr) {
      throw std::runtime_error("control socket: command '" + std::string(command.name) +
                               "' has no handler");
    }
  }
  if (!listen_fd_ || !net::set_nonblocking(listen_fd_.get())) {
    throw std::runtime_error("control socket: invalid listening descriptor");
  }
  if (!net::set_cloexec(listen_fd_.get())) {
    throw std::runtime_error("control socket: cannot set close-on-exec: " + errno_text(errno));
  }
  if (!loop_.add(listen_fd_.get(), kRead, [this](unsigned) {
        on_accept();
        rearm();
      })) {
    throw std::runtime_error("control socket: descriptor " + std::to_string(listen_fd_.get()) +
                             " is beyond what the " + std::string(loop_.name()) +
                             " event loop can watch");
  }
}

ControlServer::~ControlServer() {
  loop_.cancel_timer(timer_);
  for (const auto& entry : connections_) {
    loop_.remove(entry.first);
  }
  connections_.clear();
  if (listen_fd_) {
    loop_.remove(listen_fd_.get());
  }
  if (!unlink_path_.empty()) {
    ::unlink(unlink_path_.c_str());
  }
}

ControlAccess ControlServer::access_for(uid_t uid, gid_t gid,
                                        const std::vector<gid_t>& groups) const {
  auto member = [&](std::optional<gid_t> group) {
    if (!group) {
      return false;
    }
    if (gid == *group) {
      return true;
    }
    for (const gid_t g : groups) {
      if (g == *group) {
        return true;
      }
    }
    return false;
  };
  if (uid == 0 || uid == ::geteuid() || member(admin_group_)) {
    return ControlAccess::kAdmin;
  }
  if (member(read_group_)) {
    return ControlAccess::kRead;
  }
  return ControlAccess::kNone;
}

std::variant<UniqueFd, std::string> ControlServer::create_socket(const std::string& path,
                                                                 mode_t mode) {
  if (path.empty()) {
    return std::string("control socket path is empty");
  }
  sockaddr_un addr{};
  if (!net::make_unix_address(path, addr)) {
    return "control socket path '" + path + "' is " + std::to_string(path.size()) +
           " bytes long, but a Unix socket path holds at most " +
           std::to_string(net::max_unix_path()) + " bytes (sun_path is " +
           std::to_string(sizeof addr.sun_path) +
           " bytes with its terminating NUL); choose a shorter --control-socket";
  }
  const auto dir = std::filesystem::path(path).parent_path();
  if (!dir.empty()) {
    std::error_code ec;
    if (std::filesystem::create_directories(dir, ec)) {
      // Traversable by everyone: access is decided by the socket's own mode
      // and the peer credentials, not by hiding the directory.
      if (::chmod(dir.c_str(), 0755) != 0) {
        return "cannot set mode 0755 on the control socket's directory '" + dir.string() +
               "': " + errno_text(errno);
      }
    } else if (ec) {
      return "cannot create directory '" + dir.string() +
             "' for the control socket: " + ec.message();
    }
  }
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return "'" + path + "' exists and is not a socket; remove it or choose another " +
             "--control-socket";
    }
    UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!probe) {
      return "cannot create a socket: " + errno_text(errno);
    }
    if (::connect(probe.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) {
      return "control socket '" + path + "' is in use: another chatd is running";
    }
    const int err = errno;
    if (err != ECONNREFUSED) {
      return "cannot check the existing control socket '" + path + "': " + errno_text(err);
    }
    // Nobody listens: a socket left behind by a crash.
    if (::unlink(path.c_str()) != 0) {
      return "cannot remove the stale control socket '" + path + "': " + errno_text(errno);
    }
    spdlog::info("event=control-stale-socket-removed path={}", log_value(path));
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) {
    return "cannot create the control socket: " + errno_text(errno);
  }
  // No window with a wider mode than asked: bind under a strict umask, then
  // set the mode explicitly since the umask alone may be stricter than wanted.
  const mode_t old_umask = ::umask(0177);
  const int bind_rc = ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  const int bind_err = errno;
  ::umask(old_umask);
  if (bind_rc != 0) {
    return "cannot bind the control socket '" + path + "': " + errno_text(bind_err);
  }
  if (::chmod(path.c_str(), mode) != 0) {
    const int err = errno;
    ::unlink(path.c_str());
    return fmt::format("cannot set mode {:04o} on the control socket '{}': {}", mode, path,
                       errno_text(err));
  }
  if (::listen(fd.get(), kListenBacklog) != 0) {
    const int err = errno;
    ::unlink(path.c_str());
    return "cannot listen on the control socket '" + path + "': " + errno_text(err);
  }
  return fd;
}

void ControlServer::on_accept() {
  for (int i = 0; i < kAcceptsPerWakeup; ++i) {
    UniqueFd fd(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd) {
      const int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK) {
        return;
      }
      if (err == EINTR || err == ECONNABORTED) {
        continue;
      }
      // Out of descriptors or memory: the listener stays readable, so stop
      // watching it for a moment instead of spinning.
      spdlog::error("event=control-accept-failed error={} pause_s={}", log_value(errno_text(err)),
                    kAcceptPause.count());
      loop_.modify(listen_fd_.get(), kNone);
      accept_paused_until_ = Clock::now() + kAcceptPause;
      return;
    }
    auto conn = std::make_unique<Connection>();
    const auto cred = net::peer_credentials(fd.get());
    if (!cred) {
      refuse(std::move(fd), static_cast<uid_t>(-1), 0, "no-credentials");
      continue;
    }
    conn->uid = cred->uid;
    conn->pid = cred->pid;
    const bool groups_matter = admin_group_.has_value() || read_group_.has_value();
    conn->access = access_for(cred->uid, cred->gid,
                              groups_matter ? peer_groups(fd.get()) : std::vector<gid_t>{});
    if (conn->access == ControlAccess::kNone) {
      refuse(std::move(fd), cred->uid, cred->pid, "not-allowed");
      continue;
    }
    // Shared slots first; root alone may use the reserved ones beyond them.
    const std::size_t limit = cred->uid == 0 ? kMaxConnections + kRootReserve : kMaxConnections;
    const std::size_t shared_in_use =
        connections_.size() - std::min(connections_.size(), root_connections());
    const std::size_t in_use = cred->uid == 0 ? connections_.size() : shared_in_use;
    if (in_use >= limit) {
      spdlog::warn("event=control-reject reason=too-many-connections uid={} limit={}", cred->uid,
                   limit);
      continue;  // fd closes here
    }
    conn->deadline = Clock::now() + kRequestTimeout;
    const int raw = fd.get();
    conn->fd = std::move(fd);
    if (!loop_.add(raw, kRead, [this, raw](unsigned ready) {
          on_ready(raw, ready);
          rearm();
        })) {
      spdlog::warn("event=control-reject reason=fd-limit fd={}", raw);
      continue;
    }
    spdlog::debug("event=control-open uid={} pid={} access={}", conn->uid, conn->pid,
                  conn->access == ControlAccess::kAdmin ? "admin" : "read");
    connections_.emplace(raw, std::move(conn));
  }
}

void ControlServer::refuse(UniqueFd fd, uid_t uid, pid_t pid, std::string_view why) {
  spdlog::warn("event=control-command command=connect uid={} pid={} result={} reason={}", uid, pid,
               result::kPermissionDenied, why);
  // A fresh socket's send buffer takes this small frame at once; if it does
  // not, the peer simply sees the connection closed.
  std::string frame;
  proto::append_frame(
      frame, proto::control_reply(proto::kControlErrorType, result::kPermissionDenied,
                                  "permission denied: uid " + std::to_string(uid) +
                                      " is neither root, chatd's user, nor in chatd's admin or "
                                      "read group (chatctl(8), ACCESS)"));
  (void)!::send(fd.get(), frame.data(), frame.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

std::size_t ControlServer::root_connections() const {
  std::size_t n = 0;
  for (const auto& entry : connections_) {
    n += entry.second->uid == 0 ? 1 : 0;
  }
  return n;
}

void ControlServer::on_ready(int fd, unsigned ready) {
  const auto it = connections_.find(fd);
  if (it == connections_.end()) {
    return;
  }
  Connection& c = *it->second;
  if ((ready & kWrite) != 0 && !write_output(c)) {
    return;
  }
  if ((ready & kRead) != 0) {
    const bool reading = !c.close_after_flush && c.output.size() - c.output_sent < kOutputHighWater;
    if (reading) {
      if (!read_input(c)) {
        return;
      }
    } else if (hung_up(fd)) {
      close_connection(fd, "hangup");
      return;
    }
  }
  handle_requests(c);
  // Answer at once instead of waiting a loop turn for write readiness.
  if (c.output.size() > c.output_sent && !write_output(c)) {
    return;
  }
  update_interest(c);
}

bool ControlServer::read_input(Connection& c) {
  char* buf = c.input.prepare(kReadChunk);
  const ssize_t n = ::read(c.fd.get(), buf, kReadChunk);
  const int err = errno;
  c.input.commit(n > 0 ? static_cast<std::size_t>(n) : 0);
  if (n > 0) {
    return true;  // bytes alone do not extend the request deadline
  }
  if (n < 0 && (err == EAGAIN || err == EWOULDBLOCK || err == EINTR)) {
    return true;
  }
  close_connection(c.fd.get(), n == 0 ? "eof" : "read_error");
  return false;
}

void ControlServer::handle_requests(Connection& c) {
  while (!c.close_after_flush && c.output.size() - c.output_sent < kOutputHighWater) {
    std::string_view payload;
    const auto status = c.input.next(payload);
    if (status == proto::FrameDecoder::Status::kNeedMore) {
      return;
    }
    if (status == proto::FrameDecoder::Status::kEmptyFrame) {
      // The stream cannot be resynchronised after a zero length: answer and close.
      spdlog::warn("event=control-command command=error uid={} result={} reason=empty-frame", c.uid,
                   result::kBadRequest);
      queue_reply(c, proto::control_reply(proto::kControlErrorType, result::kBadRequest,
                                          "empty frame (length 0)"));
      c.close_after_flush = true;
      return;
    }
    queue_reply(c, execute(c, payload));
    c.deadline = Clock::now() + kRequestTimeout;  // for the next request
  }
}

std::string ControlServer::execute(Connection& c, std::string_view payload) {
  auto parsed = proto::parse_control_request(payload);
  if (auto* error = std::get_if<proto::ControlRequestError>(&parsed)) {
    spdlog::warn("event=control-command command={} uid={} pid={} result={}", log_value(error->type),
                 c.uid, c.pid, error->result);
    return proto::control_reply(error->type, error->result, error->message);
  }
  const auto& request = std::get<proto::ControlRequest>(parsed);
  const auto name = request.name();
  if (c.access != ControlAccess::kAdmin && !is_read_only(*request.command)) {
    spdlog::warn("event=control-command command={} uid={} pid={} result={}", name, c.uid, c.pid,
                 result::kPermissionDenied);
    return proto::control_reply(name, result::kPermissionDenied,
                                "permission denied: uid " + std::to_string(c.uid) +
                                    " may run read-only commands only (who, status, version); " +
                                    std::string(name) + " needs root or chatd's admin group");
  }
  try {
    // Every registry entry has a handler: the constructor checked.
    return control_handler(name)(backend_, request, ControlCaller{c.uid, c.pid});
  } catch (const std::exception& e) {
    spdlog::error("event=control-command command={} uid={} result={} error={}", name, c.uid,
                  result::kInternalError, log_value(e.what()));
  } catch (...) {
    spdlog::error("event=control-command command={} uid={} result={} error=unknown", name, c.uid,
                  result::kInternalError);
  }
  return proto::control_reply(name, result::kInternalError, "internal error; see chatd's log");
}

void ControlServer::queue_reply(Connection& c, const std::string& payload) {
  if (!proto::append_frame(c.output, payload)) {
    proto::append_frame(c.output,
                        proto::control_reply(proto::kControlErrorType, result::kInternalError,
                                             "reply too large for one frame"));
  }
}

bool ControlServer::write_output(Connection& c) {
  while (c.output_sent < c.output.size()) {
    const ssize_t n = ::send(c.fd.get(), c.output.data() + c.output_sent,
                             c.output.size() - c.output_sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      c.output_sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      break;
    }
    close_connection(c.fd.get(), "write_error");
    return false;
  }
  if (c.output_sent == c.output.size()) {
    c.output.clear();
    c.output_sent = 0;
    if (c.close_after_flush) {
      close_connection(c.fd.get(), "closed_after_reply");
      return false;
    }
  } else if (c.output_sent > c.output.size() / 2) {
    c.output.erase(0, c.output_sent);
    c.output_sent = 0;
  }
  return true;
}

void ControlServer::update_interest(Connection& c) {
  unsigned interest = kNone;
  const std::size_t pending = c.output.size() - c.output_sent;
  if (!c.close_after_flush && pending < kOutputHighWater) {
    interest |= kRead;
  }
  if (pending > 0) {
    interest |= kWrite;
  }
  loop_.modify(c.fd.get(), interest);
}

void ControlServer::close_connection(int fd, std::string_view reason) {
  const auto it = connections_.find(fd);
  if (it == connections_.end()) {
    return;
  }
  spdlog::debug("event=control-close uid={} pid={} reason={}", it->second->uid, it->second->pid,
                reason);
  loop_.remove(fd);
  connections_.erase(it);
}

void ControlServer::tick(Clock::time_point now) {
  std::vector<int> idle;
  for (const auto& [fd, conn] : connections_) {
    if (conn->deadline <= now) {
      idle.push_back(fd);
    }
  }
  for (const int fd : idle) {
    close_connection(fd, "request-timeout");
  }
  if (accept_paused_until_ && *accept_paused_until_ <= now) {
    accept_paused_until_.reset();
    loop_.modify(listen_fd_.get(), kRead);
  }
}

void ControlServer::rearm() {
  const auto next = next_deadline();
  if (next == timer_at_) {
    return;
  }
  loop_.cancel_timer(timer_);
  timer_ = 0;
  timer_at_ = next;
  if (next) {
    timer_ = loop_.add_timer(*next, [this] {
      timer_ = 0;
      timer_at_.reset();
      tick(Clock::now());
      rearm();
    });
  }
}

std::optional<ControlServer::Clock::time_point> ControlServer::next_deadline() const {
  std::optional<Clock::time_point> deadline = accept_paused_until_;
  for (const auto& entry : connections_) {
    const auto t = entry.second->deadline;
    if (!deadline || t < *deadline) {
      deadline = t;
    }
  }
  return deadline;
}

}  // namespace chat::daemon
