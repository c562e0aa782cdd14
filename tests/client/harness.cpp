// Harness implementation: sockets with deadlines, forkpty, a reader thread and the VT model.
#include "harness.hpp"
#include "tests/support/wire.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pty.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <stdexcept>

#include "client/render.hpp"
#include "protocol/frame.hpp"
#include "protocol/rules.hpp"

namespace chat::test {
namespace {

int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

std::vector<char*> argv_of(const std::vector<std::string>& args, std::string& path) {
  path = client_path();
  std::vector<char*> argv;
  argv.push_back(path.data());
  for (const auto& a : args) {
    argv.push_back(const_cast<char*>(a.c_str()));
  }
  argv.push_back(nullptr);
  return argv;
}

// The child's environment, built before fork (setenv after fork is not safe in a
// threaded test): ours, then a fixed terminal, time zone, locale and config dir so
// that what the client draws does not depend on who runs the tests, then `env`
// ("NAME=value" sets, "NAME" removes).
struct ChildEnv {
  std::vector<std::string> strings;
  std::vector<char*> pointers;
};
ChildEnv env_of(const std::vector<std::string>& env) {
  std::vector<std::string> overrides{"TERM=xterm", "TZ=UTC", "LC_ALL=C.UTF-8", "NO_COLOR",
                                     "XDG_CONFIG_HOME=/nonexistent/chat-client-tests"};
  overrides.insert(overrides.end(), env.begin(), env.end());
  ChildEnv out;
  const auto name_of = [](const std::string& e) { return e.substr(0, e.find('=')); };
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    bool replaced = false;
    for (const auto& o : overrides) {
      replaced = replaced || name_of(o) == name_of(entry);
    }
    if (!replaced) {
      out.strings.push_back(entry);
    }
  }
  for (const auto& o : overrides) {
    std::erase_if(out.strings, [&](const std::string& e) { return name_of(e) == name_of(o); });
    if (o.find('=') != std::string::npos) {
      out.strings.push_back(o);
    }
  }
  for (auto& e : out.strings) {
    out.pointers.push_back(e.data());
  }
  out.pointers.push_back(nullptr);
  return out;
}

std::optional<int> poll_exit(pid_t pid, std::optional<int>& status) {
  if (status) {
    return status;
  }
  const auto deadline = Clock::now() + kPatience;
  while (Clock::now() < deadline) {
    int st = 0;
    const pid_t r = ::waitpid(pid, &st, WNOHANG);
    if (r == pid) {
      status = exit_code_of(st);
      return status;
    }
    ::usleep(10'000);  // polling a child's exit; the bound is the deadline above
  }
  return std::nullopt;
}

void reap(pid_t pid, std::optional<int>& status) {
  if (pid > 0 && !status) {
    ::kill(pid, SIGKILL);
    int st = 0;
    ::waitpid(pid, &st, 0);
    status = exit_code_of(st);
  }
}

}  // namespace

std::string client_path() {
  return CHAT_CLIENT_PATH;
}

int exit_code_of(int status) {
  if (WIFEXITED(status)) {
    return WEXITSTATUS(status);
  }
  if (WIFSIGNALED(status)) {
    return 128 + WTERMSIG(status);
  }
  return -1;
}

// ---- FakeServer ----------------------------------------------------------------

FakeServer::FakeServer() : listen_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (!listen_ || ::bind(listen_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_.get(), 8) != 0 ||
      ::getsockname(listen_.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    throw std::runtime_error("cannot listen on 127.0.0.1");
  }
  port_ = ntohs(addr.sin_port);
}

bool FakeServer::accept() {
  pollfd p{listen_.get(), POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(kPatience.count())) != 1) {
    return false;
  }
  conn_.reset(::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
  return static_cast<bool>(conn_);
}

bool FakeServer::fill(std::chrono::milliseconds wait) {
  if (!conn_ || eof_) {
    return false;
  }
  pollfd p{conn_.get(), POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(wait.count())) != 1) {
    return false;
  }
  char buf[65536];
  const ssize_t n = ::recv(conn_.get(), buf, sizeof buf, 0);
  if (n <= 0) {
    eof_ = true;
    return false;
  }
  buf_.append(buf, static_cast<std::size_t>(n));
  return true;
}

std::optional<std::string> FakeServer::read_frame(std::chrono::milliseconds wait) {
  const auto deadline = Clock::now() + wait;
  for (;;) {
    if (buf_.size() >= 2) {
      const std::size_t n =
          (static_cast<unsigned char>(buf_[0]) << 8) | static_cast<unsigned char>(buf_[1]);
      if (buf_.size() >= 2 + n) {
        std::string payload = buf_.substr(2, n);
        buf_.erase(0, 2 + n);
        return payload;
      }
    }
    if (!fill(std::chrono::milliseconds(remaining_ms(deadline)))) {
      return std::nullopt;
    }
  }
}

bool FakeServer::read_eof() {
  const auto deadline = Clock::now() + kPatience;
  while (!eof_ && Clock::now() < deadline) {
    fill(std::chrono::milliseconds(remaining_ms(deadline)));
  }
  return eof_ && buf_.empty();
}

void FakeServer::send(const std::string& payload) {
  send_raw(chat::test::frame_of(payload));
}

void FakeServer::send_raw(const std::string& bytes) {
  std::string_view rest = bytes;
  while (!rest.empty() && conn_) {
    const ssize_t n = ::send(conn_.get(), rest.data(), rest.size(), MSG_NOSIGNAL);
    if (n <= 0) {
      return;
    }
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
}

// ---- VtScreen ------------------------------------------------------------------

VtScreen::VtScreen(int rows, int cols) : rows_(rows), cols_(cols), bottom_(rows - 1) {
  cells_.assign(rows_, std::vector<std::string>(cols_, " "));
}

void VtScreen::resize(int rows, int cols) {
  cells_.resize(rows, std::vector<std::string>(cols, " "));
  for (auto& r : cells_) {
    r.resize(cols, " ");
  }
  rows_ = rows;
  cols_ = cols;
  top_ = 0;
  bottom_ = rows - 1;
  crow_ = std::min(crow_, rows_ - 1);
  ccol_ = std::min(ccol_, cols_ - 1);
}

std::string VtScreen::row(int r) const {
  std::string out;
  for (const auto& c : cells_.at(r)) {
    out += c;
  }
  while (!out.empty() && out.back() == ' ') {
    out.pop_back();
  }
  return out;
}

std::string VtScreen::dump() const {
  std::string out;
  for (int r = 0; r < rows_; ++r) {
    out += std::to_string(r) + "|" + row(r) + "\n";
  }
  out += "cursor " + std::to_string(crow_) + "," + std::to_string(ccol_) + "\n";
  return out;
}

void VtScreen::index() {
  if (crow_ == bottom_) {
    cells_.erase(cells_.begin() + top_);
    cells_.insert(cells_.begin() + bottom_, std::vector<std::string>(cols_, " "));
  } else if (crow_ < rows_ - 1) {
    ++crow_;
  }
}

void VtScreen::put(char32_t cp) {
  const int w = client::code_point_width(cp);
  if (w == 0) {
    return;  // combining marks attach to the previous cell; not modelled
  }
  if (wrap_pending_ || ccol_ + w > cols_) {
    ccol_ = 0;
    index();
    wrap_pending_ = false;
  }
  std::string s;
  client::append_inert(s, cp);
  cells_[crow_][ccol_] = s;
  if (w == 2) {
    cells_[crow_][ccol_ + 1] = "";
  }
  ccol_ += w;
  if (ccol_ >= cols_) {
    ccol_ = cols_ - 1;
    wrap_pending_ = true;
  }
}

void VtScreen::csi(const std::string& params, char final) {
  std::vector<int> n;
  std::size_t i = 0;
  const bool priv = !params.empty() && params[0] == '?';
  std::string body = priv ? params.substr(1) : params;
  while (i <= body.size()) {
    const std::size_t j = std::min(body.find(';', i), body.size());
    n.push_back(j > i ? std::stoi(body.substr(i, j - i)) : 0);
    i = j + 1;
  }
  const auto arg = [&](std::size_t k, int def) { return k < n.size() && n[k] != 0 ? n[k] : def; };
  wrap_pending_ = false;
  if (priv) {
    if ((body != "25" && body != "2004") || (final != 'h' && final != 'l')) {
      unexpected_.push_back("CSI " + params + final);
    }
    return;
  }
  switch (final) {
    case 'H':
    case 'f':
      crow_ = std::clamp(arg(0, 1) - 1, 0, rows_ - 1);
      ccol_ = std::clamp(arg(1, 1) - 1, 0, cols_ - 1);
      break;
    case 'r':
      top_ = std::clamp(arg(0, 1) - 1, 0, rows_ - 1);
      bottom_ = std::clamp(arg(1, rows_) - 1, 0, rows_ - 1);
      crow_ = 0;
      ccol_ = 0;
      break;
    case 'K':
      if (arg(0, 0) == 2) {
        cells_[crow_].assign(cols_, " ");
      } else {
        for (int c = ccol_; c < cols_; ++c) {
          cells_[crow_][c] = " ";
        }
      }
      break;
    case 'J':
      if (arg(0, 0) == 2) {
        cells_.assign(rows_, std::vector<std::string>(cols_, " "));
      } else {
        unexpected_.push_back("CSI " + params + final);
      }
      break;
    case 'm':
      // Reset, bold, dim, reverse, default colour and the 16 foreground colours.
      for (const int p : n) {
        if (!(p == 0 || p == 1 || p == 2 || p == 7 || p == 22 || p == 27 || p == 39 ||
              (p >= 30 && p <= 37) || (p >= 90 && p <= 97))) {
          unexpected_.push_back("CSI " + params + final);
          break;
        }
      }
      break;
    default:
      unexpected_.push_back("CSI " + params + final);
  }
}

void VtScreen::feed(const std::string& bytes) {
  pending_ += bytes;
  std::size_t i = 0;
  while (i < pending_.size()) {
    const auto c = static_cast<unsigned char>(pending_[i]);
    if (c == 0x1B) {
      if (i + 1 >= pending_.size()) {
        break;
      }
      if (pending_[i + 1] != '[') {
        unexpected_.push_back(std::string("ESC ") + pending_[i + 1]);
        i += 2;
        continue;
      }
      std::size_t j = i + 2;
      while (j < pending_.size() && static_cast<unsigned char>(pending_[j]) >= 0x20 &&
             static_cast<unsigned char>(pending_[j]) <= 0x3F) {
        ++j;
      }
      if (j >= pending_.size()) {
        break;
      }
      csi(pending_.substr(i + 2, j - i - 2), pending_[j]);
      i = j + 1;
      continue;
    }
    if (c == '\r') {
      ccol_ = 0;
      wrap_pending_ = false;
      ++i;
      continue;
    }
    if (c == '\n') {
      index();
      wrap_pending_ = false;
      ++i;
      continue;
    }
    if (c == 0x07) {
      ++bells_;
      ++i;
      continue;
    }
    if (c < 0x20 || c == 0x7F) {
      unexpected_.push_back("C0 " + std::to_string(c));
      ++i;
      continue;
    }
    std::size_t k = i;
    const auto cp = proto::next_code_point(pending_, k);
    if (!cp) {
      // Might be a sequence cut by the read: wait for more if it could still complete.
      if (pending_.size() - i < 4 && c >= 0xC2 && c <= 0xF4) {
        break;
      }
      unexpected_.push_back("invalid UTF-8 byte " + std::to_string(c));
      ++i;
      continue;
    }
    if (*cp >= 0x80 && *cp <= 0x9F) {
      unexpected_.push_back("C1 " + std::to_string(*cp));
    } else if ((*cp >= 0x202A && *cp <= 0x202E) || (*cp >= 0x2066 && *cp <= 0x2069)) {
      unexpected_.push_back("bidi control " + std::to_string(*cp));
    }
    put(*cp);
    i = k;
  }
  pending_.erase(0, i);
}

// ---- PtyClient -----------------------------------------------------------------

PtyClient::PtyClient(const std::vector<std::string>& args, int rows, int cols,
                     const std::vector<std::string>& env)
    : screen_(rows, cols) {
  ChildEnv child_env = env_of(env);
  winsize ws{};
  ws.ws_row = static_cast<unsigned short>(rows);
  ws.ws_col = static_cast<unsigned short>(cols);
  std::string path;
  auto argv = argv_of(args, path);
  int master = -1;
  pid_ = ::forkpty(&master, nullptr, nullptr, &ws);
  if (pid_ < 0) {
    throw std::runtime_error("forkpty failed");
  }
  if (pid_ == 0) {
    ::execve(path.c_str(), argv.data(), child_env.pointers.data());
    ::_exit(127);
  }
  master_.reset(master);
  reader_ = std::thread([this] { reader(); });
}

PtyClient::~PtyClient() {
  reap(pid_, status_);
  // The reader ends on EIO once the child (the only holder of the slave) is gone;
  // the master fd is closed only after that, so the reader never reads a stale fd.
  if (reader_.joinable()) {
    reader_.join();
  }
}

void PtyClient::reader() {
  char buf[4096];
  const int fd = master_.get();
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    std::lock_guard lock(mu_);
    if (n <= 0) {
      closed_ = true;
      cv_.notify_all();
      return;
    }
    raw_.append(buf, static_cast<std::size_t>(n));
    screen_.feed(std::string(buf, static_cast<std::size_t>(n)));
    cv_.notify_all();
  }
}

void PtyClient::type(const std::string& keys) {
  std::string_view rest = keys;
  while (!rest.empty()) {
    const ssize_t n = ::write(master_.get(), rest.data(), rest.size());
    if (n <= 0) {
      return;
    }
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
}

bool PtyClient::wait_screen(const std::function<bool(const VtScreen&)>& pred) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, kPatience, [&] { return pred(screen_); });
}

bool PtyClient::wait_row(int row, const std::string& text) {
  return wait_screen([&](const VtScreen& s) { return s.row(row) == text; });
}

bool PtyClient::wait_text(const std::string& text) {
  return wait_screen([&](const VtScreen& s) {
    for (int r = 0; r < s.rows(); ++r) {
      if (s.row(r).find(text) != std::string::npos) {
        return true;
      }
    }
    return false;
  });
}

bool PtyClient::wait_raw(const std::string& bytes) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, kPatience, [&] { return raw_.find(bytes) != std::string::npos; });
}

std::optional<int> PtyClient::wait_exit() {
  auto code = poll_exit(pid_, status_);
  if (code) {
    // Let the reader take in everything the client wrote before it exited.
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, kPatience, [&] { return closed_; });
  }
  return code;
}

void PtyClient::resize(int rows, int cols) {
  {
    std::lock_guard lock(mu_);
    screen_.resize(rows, cols);
  }
  winsize ws{};
  ws.ws_row = static_cast<unsigned short>(rows);
  ws.ws_col = static_cast<unsigned short>(cols);
  ::ioctl(master_.get(), TIOCSWINSZ, &ws);  // the kernel sends SIGWINCH to the client
}

void PtyClient::signal(int sig) {
  ::kill(pid_, sig);
}

std::string PtyClient::raw() const {
  std::lock_guard lock(mu_);
  return raw_;
}

std::string PtyClient::dump() const {
  std::lock_guard lock(mu_);
  return screen_.dump();
}

std::vector<std::string> PtyClient::unexpected() const {
  std::lock_guard lock(mu_);
  return screen_.unexpected();
}

// ---- PipedClient ---------------------------------------------------------------

PipedClient::PipedClient(const std::vector<std::string>& args,
                         const std::vector<std::string>& env) {
  ChildEnv child_env = env_of(env);
  int in[2];
  int out[2];
  int err[2];
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe failed");
  }
  std::string path;
  auto argv = argv_of(args, path);
  pid_ = ::fork();
  if (pid_ == 0) {
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    ::setsid();  // no controlling terminal: plain mode, whatever runs the tests
    ::execve(path.c_str(), argv.data(), child_env.pointers.data());
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  in_.reset(in[1]);
  out_.reset(out[0]);
  err_.reset(err[0]);
}

PipedClient::~PipedClient() {
  reap(pid_, status_);
}

void PipedClient::write_stdin(const std::string& data) {
  (void)!::write(in_.get(), data.data(), data.size());
}

std::optional<int> PipedClient::wait_exit() {
  return poll_exit(pid_, status_);
}

namespace {
std::string drain(int fd, std::string& buf, const std::string* until) {
  const auto deadline = Clock::now() + kPatience;
  while (Clock::now() < deadline) {
    if (until != nullptr && buf.find(*until) != std::string::npos) {
      break;
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, remaining_ms(deadline)) != 1) {
      break;
    }
    char tmp[4096];
    const ssize_t n = ::read(fd, tmp, sizeof tmp);
    if (n <= 0) {
      break;
    }
    buf.append(tmp, static_cast<std::size_t>(n));
  }
  return buf;
}
}  // namespace

std::string PipedClient::read_all_stdout() {
  return drain(out_.get(), out_buf_, nullptr);
}

std::string PipedClient::read_all_stderr() {
  std::string buf;
  return drain(err_.get(), buf, nullptr);
}

bool PipedClient::wait_stdout(const std::string& text) {
  return drain(out_.get(), out_buf_, &text).find(text) != std::string::npos;
}

}  // namespace chat::test
