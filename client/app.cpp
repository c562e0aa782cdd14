// Start-up, the main thread's keyboard/stdin loop in both modes, signals and clean exit.
#include "client/app.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <langinfo.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <clocale>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "client/commands.hpp"
#include "client/connection.hpp"
#include "client/keys.hpp"
#include "client/line_editor.hpp"
#include "client/receiver.hpp"
#include "client/screen.hpp"
#include "client/state.hpp"
#include "client/terminal.hpp"
#include "client/trust_files.hpp"
#include "common/net.hpp"
#include "common/unique_fd.hpp"
#include "protocol/codec.hpp"
#include "protocol/frame.hpp"
#include "protocol/rules.hpp"

namespace chat::client {
namespace {

// Wake-up bytes: one per signal read from the signalfd, and one the receiver writes to
// the self-pipe when it ends.
constexpr char kWakeResize = 'W';
constexpr char kWakeInterrupt = 'I';
constexpr char kWakeTerminate = 'T';
constexpr char kWakeHangup = 'H';
constexpr char kWakeClosed = 'C';

// After end of input in plain mode, how long to keep printing what the server
// still sends (our own echoed lines) before leaving.
constexpr int kPlainDrainMs = 1000;
// A lone ESC is a key press when nothing follows it this quickly.
constexpr int kEscapeTimeoutMs = 50;
// Confirmed pasted lines go out one per interval: 10/s stays far under chatd's
// default flood limit (50/s) and reads as a burst, not a flood, to the others.
constexpr auto kPasteInterval = std::chrono::milliseconds(100);
// A line of ours not echoed for this long: the server has stopped answering (or lags).
constexpr auto kLagNotice = std::chrono::milliseconds(4000);

// Wake-ups for the main thread: the signals it handles, read from a signalfd (they
// are blocked in every thread, so none interrupts anything and no handler runs
// asynchronously), and a self-pipe the receiver thread writes to when it ends.
class SignalPipe {
 public:
  SignalPipe() {
    sigset_t set;
    sigemptyset(&set);
    for (int sig : kSignals) {
      sigaddset(&set, sig);
    }
    // Blocked before any thread starts, so every thread inherits the mask and
    // the signals stay pending until the signalfd is read.
    if (::pthread_sigmask(SIG_BLOCK, &set, nullptr) != 0) {
      return;
    }
    signals_.reset(::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC));
    std::array<int, 2> fds{};
    if (!signals_ || ::pipe2(fds.data(), O_CLOEXEC | O_NONBLOCK) != 0) {
      return;
    }
    read_.reset(fds[0]);
    write_.reset(fds[1]);
    ::signal(SIGPIPE, SIG_IGN);
  }
  SignalPipe(const SignalPipe&) = delete;
  SignalPipe& operator=(const SignalPipe&) = delete;
  // The signals stay blocked: chat_client exits right after, and a late
  // SIGTERM must not cut short the terminal's restoration.
  ~SignalPipe() = default;
  bool ok() const { return static_cast<bool>(read_) && static_cast<bool>(signals_); }
  int pipe_fd() const { return read_.get(); }
  int signal_fd() const { return signals_.get(); }
  void wake(char c) const { (void)!::write(write_.get(), &c, 1); }
  // Everything that woke the main thread, as wake bytes in arrival order per source.
  std::string drain() const {
    std::string wakes;
    signalfd_siginfo info{};
    while (::read(signals_.get(), &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
      const auto sig = static_cast<int>(info.ssi_signo);
      wakes += sig == SIGWINCH  ? kWakeResize
               : sig == SIGINT  ? kWakeInterrupt
               : sig == SIGTERM ? kWakeTerminate
                                : kWakeHangup;
    }
    std::array<char, 64> buf{};
    ssize_t n;
    while ((n = ::read(read_.get(), buf.data(), buf.size())) > 0) {
      wakes.append(buf.data(), static_cast<std::size_t>(n));
    }
    return wakes;
  }

 private:
  static constexpr std::array kSignals{SIGWINCH, SIGINT, SIGTERM, SIGHUP};
  UniqueFd signals_;
  UniqueFd read_;
  UniqueFd write_;
};

// A connected, blocking TCP socket to host:port, or empty and `error` set; the
// connect itself is bounded by `timeout_ms` (the kernel's own limit is minutes).
UniqueFd connect_with_timeout(const std::string& host, const std::string& port, int timeout_ms,
                              std::string& error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (const int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    error = "cannot resolve " + host + ": " + ::gai_strerror(rc);
    return UniqueFd{};
  }
  int last_errno = ETIMEDOUT;
  UniqueFd fd;
  for (addrinfo* ai = res; ai != nullptr && !fd; ai = ai->ai_next) {
    UniqueFd s(
        ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol));
    if (!s) {
      last_errno = errno;
      continue;
    }
    int rc = ::connect(s.get(), ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{s.get(), POLLOUT, 0};
      rc = -1;
      errno = ETIMEDOUT;
      if (::poll(&p, 1, timeout_ms) == 1) {
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(s.get(), SOL_SOCKET, SO_ERROR, &err, &len);
        rc = err == 0 ? 0 : -1;
        errno = err;
      }
    }
    if (rc == 0) {
      ::fcntl(s.get(), F_SETFL, ::fcntl(s.get(), F_GETFL) & ~O_NONBLOCK);
      fd = std::move(s);
    } else {
      last_errno = errno;
    }
  }
  ::freeaddrinfo(res);
  if (!fd) {
    error = "cannot connect to " + host + " port " + port + ": " + std::strerror(last_errno);
  }
  return fd;
}

bool send_frame(Connection& conn, const std::string& frame) {
  return !frame.empty() && conn.send(frame);
}

// The wire bytes of one packet; "" when its payload does not fit in one frame.
// (The one place this file frames: main's Frame::make replaces it on merge.)
std::string frame_of(const std::string& payload) {
  const auto frame = proto::Frame::make(payload);
  return frame ? std::string(frame->bytes()) : std::string();  // "": too long for a frame
}

bool send_packet(Connection& conn, const proto::ClientPacket& packet) {
  return send_frame(conn, frame_of(proto::encode(packet)));
}

// Our hello; the password only where it may go (TLS, or --allow-plaintext-password).
bool send_hello(Connection& conn, const Options& options, const std::string& password) {
  proto::Hello hello{options.nick, proto::known_caps()};
  if (!password.empty() && (conn.tls() || options.allow_plaintext_password)) {
    hello.password = password;
  }
  return send_packet(conn, hello);
}

struct Opened {
  std::unique_ptr<Connection> conn;
  int exit_code = 0;  // when conn is null
  std::string error;  // when conn is null
  std::vector<std::string> warnings;
};

// A connection to the server with our hello sent: TCP, then TLS when asked for.
Opened open_connection(const Options& options, const std::string& password, TrustMemo& memo,
                       bool may_prompt) {
  Opened out;
  for (int round = 0; round < 2; ++round) {
    std::string error;
    UniqueFd sock =
        connect_with_timeout(options.host, options.port, options.connect_timeout_ms, error);
    if (!sock) {
      out.exit_code = exit_code::kUnavailable;
      out.error = error;
      return out;
    }
    if (!options.tls) {
      out.conn = plain_connection(std::move(sock));
      break;
    }
    TlsConfig config{options.ca_file, known_servers_path(), options.connect_timeout_ms};
    TlsResult tls =
        tls_connect(std::move(sock), options.host, options.port, config, memo, may_prompt);
    out.warnings.insert(out.warnings.end(), tls.warnings.begin(), tls.warnings.end());
    if (!tls.conn) {
      out.exit_code = tls.exit_code;
      out.error = tls.error;
      return out;
    }
    out.conn = std::move(tls.conn);
    if (!tls.asked) {
      break;
    }
    // The user took their time to answer: the server may have given up on our
    // hello, so start afresh (the certificate is trusted now, silently).
    out.conn.reset();
    may_prompt = false;
  }
  if (!out.conn || !send_hello(*out.conn, options, password)) {
    out.conn.reset();
    out.exit_code = exit_code::kUnavailable;
    out.error = "cannot send hello to " + options.host + " port " + options.port;
  }
  return out;
}

// What the receiver has learnt, as the command interpreter needs it.
Context context_of(const SessionState& state) {
  SessionState::View view = state.view();
  Context context{std::move(view.room), std::nullopt};
  if (view.welcomed) {
    context.caps = std::move(view.caps);
  } else if (view.part1) {
    context.caps = std::vector<std::string>{};
  }
  return context;
}

int close_code(CloseReason reason) {
  return reason == CloseReason::kClosed ? exit_code::kUnavailable : exit_code::kProtocol;
}

// What a signal byte means for the exit, with the line shown on the way out.
struct Exit {
  int code;
  std::string farewell;
};
std::optional<Exit> signal_exit(char c) {
  switch (c) {
    case kWakeInterrupt:
      return Exit{exit_code::kInterrupted, "*** interrupted"};
    case kWakeTerminate:
      return Exit{exit_code::kTerminated, "*** terminated"};
    case kWakeHangup:
      return Exit{exit_code::kHangup, ""};
    default:
      return std::nullopt;
  }
}

// What became of a typed line.
struct LineResult {
  std::optional<Exit> exit;
  bool too_long = false;  // refused (does not fit in one frame, or not connected); nothing sent
};

// Runs one typed line.
LineResult run_line(std::string_view line, Connection* conn, Display& display,
                    SessionState& state) {
  const Action action = interpret(line, context_of(state));
  if (std::holds_alternative<SendAction>(action) && conn == nullptr) {
    display.add_line(Line{"*** not connected; the line is kept"});
    return {std::nullopt, true};
  }
  if (const auto* send = std::get_if<SendAction>(&action)) {
    const std::string payload = proto::encode(send->packet);
    const std::string frame = frame_of(payload);
    if (frame.empty()) {
      display.add_line(Line{"*** line too long: " + std::to_string(payload.size()) +
                            " bytes as a packet, the limit is " +
                            std::to_string(proto::kMaxPayload) + "; nothing sent"});
      return {std::nullopt, true};
    }
    // A failed send means the connection is gone; the receiver reports that.
    (void)send_frame(*conn, frame);
    if (!std::holds_alternative<proto::WhoRequest>(send->packet) &&
        !std::holds_alternative<proto::RoomsRequest>(send->packet) &&
        !std::holds_alternative<proto::EnterRequest>(send->packet)) {
      state.line_sent(std::chrono::steady_clock::now());  // its echo is due
    }
  } else if (std::holds_alternative<QuitAction>(action)) {
    return {Exit{exit_code::kOk, ""}};
  } else if (const auto* local = std::get_if<LocalAction>(&action)) {
    for (const auto& l : local->lines) {
      display.add_line(Line{l});
    }
  }
  return {};
}

// A pasted line as the editor would hold it: no controls, tabs as spaces.
std::u32string clean_text(std::string_view text) {
  LineEditor clean;
  clean.insert(text);
  return clean.code_points();
}

// A pasted block split at its newlines (CR LF, CR or LF).
std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> lines(1);
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r' || text[i] == '\n') {
      if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
        ++i;
      }
      lines.emplace_back();
    } else {
      lines.back() += text[i];
    }
  }
  return lines;
}

// Sends one confirmed pasted line: always a chat, never a command.
void send_pasted(const std::string& line, Connection& conn, Display& display) {
  const std::string frame = frame_of(proto::encode(proto::ChatRequest{line}));
  if (frame.empty()) {
    display.add_line(Line{"*** pasted line too long for one packet; not sent"});
    return;
  }
  (void)send_frame(conn, frame);
}

// Reconnect delays: 1 s doubling to 30 s, each drawn from 75-125 % of that so a
// restarted server is not hit by every client in the same instant.
std::chrono::milliseconds backoff(int attempt, std::minstd_rand& rng) {
  const long base = std::min<long>(30000, 1000L << std::min(attempt - 1, 5));
  std::uniform_int_distribution<long> jitter(base * 3 / 4, base * 5 / 4 - 1);
  return std::chrono::milliseconds(jitter(rng));
}

// Each line of a (possibly multi-line) message as a screen line.
void show_lines(Display& display, const std::string& text) {
  for (const auto& line : split_lines(text)) {
    display.add_line(Line{"*** " + line});
  }
}

int run_tty(const Options& options, std::unique_ptr<Connection> first, TrustMemo& memo,
            const SignalPipe& wake, LogFile* log) {
  RawMode raw(STDIN_FILENO);
  if (!raw.ok()) {
    std::fprintf(stderr, "chat_client: cannot put the terminal in raw mode\n");
    return exit_code::kOsError;
  }
  Screen screen(STDOUT_FILENO, options.nick, window_size(STDOUT_FILENO), options.look);
  screen.set_log(log);
  screen.start();
  NickBook nicks;
  // One connection at a time; after a drop the UI (and the line being typed) stays
  // while a new connection, state and receiver are made.
  std::unique_ptr<Connection> conn = std::move(first);
  auto state = std::make_unique<SessionState>();
  const auto on_close = [&wake] { wake.wake(kWakeClosed); };
  auto receiver = std::make_unique<Receiver>(*conn, options.nick, screen, nicks, *state, on_close);
  std::optional<Exit> exit;
  // The password: --password-file's, or the one typed once when the server said the
  // nick is registered. Typed keys go to `typed_password`, never to the editor, its
  // history, the screen or the log.
  std::string password = options.password;
  bool asking_password = false;
  bool password_asked = false;
  std::string typed_password;
  receiver->start();
  int attempt = 0;
  bool reconnected = false;  // this connection replaced a dropped one
  std::optional<std::chrono::steady_clock::time_point> retry_at;
  std::string last_room;
  std::minstd_rand rng(std::random_device{}());
  const auto schedule = [&] {
    ++attempt;
    const auto delay = backoff(attempt, rng);
    retry_at = std::chrono::steady_clock::now() + delay;
    screen.add_line(Line{"*** reconnecting in " +
                         std::to_string(std::max<long>(1, std::lround(delay.count() / 1000.0))) +
                         " s (attempt " + std::to_string(attempt) + ")"});
  };
  const auto reconnect = [&] {
    retry_at.reset();
    Opened next = open_connection(options, password, memo, false);
    for (const auto& warning : next.warnings) {
      screen.add_line(Line{"*** " + warning});
    }
    if (!next.conn) {
      show_lines(screen, next.error);
      if (next.exit_code == exit_code::kUnavailable) {
        schedule();
      } else {
        exit = Exit{next.exit_code, ""};  // a certificate not trusted: trying again won't help
      }
      return;
    }
    receiver.reset();  // stopped already; it holds the old state and connection
    conn = std::move(next.conn);
    state = std::make_unique<SessionState>();
    receiver = std::make_unique<Receiver>(*conn, options.nick, screen, nicks, *state, on_close);
    receiver->rejoin(last_room);
    receiver->start();
    reconnected = true;
    screen.add_line(Line{"*** reconnected to " + options.host + " port " + options.port});
  };

  LineEditor editor;
  KeyDecoder keys;
  std::array<char, 4096> buf{};
  // A multi-line paste waits for a yes (Enter) or a no (Ctrl-C), then goes out paced.
  std::vector<std::string> to_confirm;
  std::u32string before_paste;
  std::deque<std::string> outgoing;
  auto next_send = std::chrono::steady_clock::now();
  while (!exit) {
    std::array<pollfd, 3> fds{pollfd{STDIN_FILENO, POLLIN, 0}, pollfd{wake.pipe_fd(), POLLIN, 0},
                              pollfd{wake.signal_fd(), POLLIN, 0}};
    int timeout = keys.pending() ? kEscapeTimeoutMs : -1;
    const auto wake_at = [&timeout](std::chrono::steady_clock::time_point when) {
      const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
                            when - std::chrono::steady_clock::now())
                            .count();
      const int until = static_cast<int>(std::clamp<std::int64_t>(wait, 0, 1000));
      timeout = timeout < 0 ? until : std::min(timeout, until);
    };
    if (!outgoing.empty() && conn) {
      wake_at(next_send);
    }
    if (retry_at) {
      wake_at(*retry_at);
    }
    const auto lag_due = conn ? state->overdue_at(kLagNotice) : std::nullopt;
    if (lag_due) {
      wake_at(*lag_due);
    }
    const int r = ::poll(fds.data(), fds.size(), timeout);
    if (r < 0 && errno == EINTR) {
      continue;
    }
    if (attempt > 0 && conn && (state->view().welcomed || state->view().part1)) {
      attempt = 0;  // really back: the next drop starts the backoff again
    }
    const auto now = std::chrono::steady_clock::now();
    if (!outgoing.empty() && conn && now >= next_send) {
      send_pasted(outgoing.front(), *conn, screen);
      outgoing.pop_front();
      next_send = now + kPasteInterval;
    }
    if (retry_at && now >= *retry_at) {
      reconnect();
      if (exit) {
        break;
      }
    }
    if (lag_due && now >= *lag_due) {
      state->overdue_shown();
      screen.add_line(Line{"*** no answer from the server for " +
                           std::to_string(kLagNotice.count() / 1000) +
                           " s: your last line is not confirmed yet"});
    }
    if (r == 0) {
      if (keys.pending()) {
        keys.flush();
      }
      continue;
    }
    if (((fds[1].revents | fds[2].revents) & POLLIN) != 0) {
      for (const char c : wake.drain()) {
        if (exit) {
          break;
        }
        if (c == kWakeResize) {
          screen.resize(window_size(STDOUT_FILENO));
        } else if (c == kWakeClosed) {
          receiver->stop();
          // Dropped (not refused: kicked, nick taken...): try again, keeping the UI.
          // After a drop the server may still hold our old session's nick for a while
          // (a half-open connection it has not noticed): keep trying then too.
          const bool old_nick_held = reconnected && receiver->reason() == CloseReason::kRejected &&
                                     receiver->last_error_code() == "nick-taken";
          const bool auth_failed = receiver->reason() == CloseReason::kRejected &&
                                   receiver->last_error_code() == "auth-failed";
          if (auth_failed && password.empty() && !password_asked) {
            last_room = state->view().room;
            conn.reset();
            if (!options.tls && !options.allow_plaintext_password) {
              screen.add_line(Line{"*** " + options.nick +
                                   " is registered and needs a password, which chat_client "
                                   "sends only over TLS (--tls), or with "
                                   "--allow-plaintext-password"});
              exit = Exit{exit_code::kProtocol, ""};
            } else {
              asking_password = true;
              password_asked = true;
              screen.add_line(Line{"*** " + options.nick +
                                   " is registered: type its password and press Enter (it is "
                                   "not shown; Ctrl-C gives up)"});
            }
          } else if (options.reconnect &&
                     (receiver->reason() == CloseReason::kClosed || old_nick_held)) {
            last_room = state->view().room;
            conn.reset();
            schedule();
          } else {
            exit = Exit{close_code(receiver->reason()), ""};
          }
        } else {
          exit = signal_exit(c);
        }
      }
      if (exit) {
        break;
      }
    }
    if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
      continue;
    }
    const ssize_t n = ::read(STDIN_FILENO, buf.data(), buf.size());
    if (n <= 0) {
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
        continue;
      }
      exit = Exit{exit_code::kHangup, ""};
      break;
    }
    for (const Key& key : keys.feed(std::string_view(buf.data(), static_cast<std::size_t>(n)))) {
      if (asking_password) {
        // Raw mode: nothing typed is echoed; the keys are kept apart from the line.
        if (key.kind == Key::Kind::kText) {
          typed_password += to_utf8(std::u32string(1, key.cp));
        } else if (key.kind == Key::Kind::kPaste) {
          typed_password += split_lines(key.text).front();
        } else if (key.kind == Key::Kind::kBackspace && !typed_password.empty()) {
          typed_password =
              to_utf8(from_utf8(typed_password).substr(0, from_utf8(typed_password).size() - 1));
        } else if (key.kind == Key::Kind::kEnter && !typed_password.empty()) {
          asking_password = false;
          password = std::move(typed_password);
          typed_password.clear();
          screen.add_line(Line{"*** connecting again with the password"});
          reconnect();
        } else if (key.kind == Key::Kind::kInterrupt || key.kind == Key::Kind::kEof) {
          exit = Exit{exit_code::kProtocol, "*** no password given"};
        }
        if (exit) {
          break;
        }
        continue;
      }
      if (!to_confirm.empty()) {
        // Only the answer counts while a paste waits for one.
        if (key.kind == Key::Kind::kEnter) {
          screen.add_line(
              Line{"*** sending " + std::to_string(to_confirm.size()) + " pasted lines"});
          outgoing.insert(outgoing.end(), to_confirm.begin(), to_confirm.end());
          to_confirm.clear();
        } else if (key.kind == Key::Kind::kInterrupt) {
          screen.add_line(Line{"*** paste cancelled; nothing sent"});
          editor.set(before_paste, std::u32string::npos);
          to_confirm.clear();
        }
        continue;
      }
      switch (key.kind) {
        case Key::Kind::kText:
          editor.insert(key.cp);
          break;
        case Key::Kind::kEnter: {
          screen.bottom();
          const std::string line = editor.take_line();
          LineResult result = run_line(line, conn.get(), screen, *state);
          if (result.too_long) {
            editor.set(from_utf8(line), std::u32string::npos);  // kept to shorten, not lost
          }
          exit = std::move(result.exit);
          break;
        }
        case Key::Kind::kPaste: {
          // Inserted as text where the cursor is: a pasted Tab is a space, not completion.
          const std::u32string& now = editor.code_points();
          const std::string whole = to_utf8(now.substr(0, editor.cursor())) + key.text +
                                    to_utf8(now.substr(editor.cursor()));
          std::vector<std::string> pieces = split_lines(whole);
          if (pieces.size() == 1) {
            const std::size_t at = editor.cursor() + clean_text(key.text).size();
            editor.set(clean_text(whole), at);
            break;
          }
          const std::u32string rest = clean_text(pieces.back());
          pieces.pop_back();
          std::vector<std::string> lines;
          for (const auto& piece : pieces) {
            const std::string line = to_utf8(clean_text(piece));
            if (!std::holds_alternative<std::monostate>(interpret(line))) {
              lines.push_back(line);  // blank lines are not sent
            }
          }
          if (lines.size() == 1 && rest.empty()) {
            editor.set(from_utf8(lines.front()), std::u32string::npos);  // one line: Enter sends
          } else if (lines.empty()) {
            editor.set(rest, std::u32string::npos);
          } else {
            before_paste = now;
            to_confirm = std::move(lines);
            editor.set(rest, std::u32string::npos);
            screen.add_line(Line{"*** paste of " + std::to_string(to_confirm.size()) +
                                 " lines: Enter sends them as messages, Ctrl-C cancels"});
          }
          break;
        }
        case Key::Kind::kPageUp:
          screen.page(-1);
          break;
        case Key::Kind::kPageDown:
          screen.page(+1);
          break;
        case Key::Kind::kBackspace:
          editor.backspace();
          break;
        case Key::Kind::kDelete:
          editor.delete_forward();
          break;
        case Key::Kind::kLeft:
          editor.left();
          break;
        case Key::Kind::kRight:
          editor.right();
          break;
        case Key::Kind::kUp:
          editor.history_up();
          break;
        case Key::Kind::kDown:
          editor.history_down();
          break;
        case Key::Kind::kHome:
          editor.home();
          break;
        case Key::Kind::kEnd:
          editor.end();
          screen.bottom();
          break;
        case Key::Kind::kTab: {
          Completion c = complete(editor.code_points(), editor.cursor(), nicks.snapshot());
          editor.set(std::move(c.text), c.cursor);
          if (!c.candidates.empty()) {
            std::string list = "***";
            for (const auto& candidate : c.candidates) {
              list += " " + candidate;
            }
            screen.add_line(Line{list});
          }
          break;
        }
        case Key::Kind::kInterrupt:
          // As in shells: Ctrl-C drops the line being typed; on an empty line it quits.
          if (editor.empty()) {
            exit = Exit{exit_code::kInterrupted, "*** interrupted"};
          } else {
            editor.set({}, 0);
          }
          break;
        case Key::Kind::kEof:
          if (editor.empty()) {
            exit = Exit{exit_code::kOk, ""};
          } else {
            editor.delete_forward();
          }
          break;
        case Key::Kind::kKillToStart:
          editor.kill_to_start();
          break;
        case Key::Kind::kKillToEnd:
          editor.kill_to_end();
          break;
        case Key::Kind::kKillWord:
          editor.kill_word();
          break;
        case Key::Kind::kRedraw:
          screen.resize(window_size(STDOUT_FILENO));
          break;
      }
      if (exit) {
        break;
      }
    }
    if (!exit) {
      if (asking_password) {
        screen.set_input({}, 0);  // the line typed before is kept, not shown meanwhile
      } else {
        screen.set_input(editor.code_points(), editor.cursor());
      }
    }
  }
  if (conn) {
    conn->finish_sending();  // over TLS: close_notify, so the server sees a clean end
  }
  receiver->stop();  // before the screen is restored: no line may follow the restore
  screen.finish(exit->farewell);
  return exit->code;
}

// Plain mode: a bot's line made sendable, so one stray byte cannot get it refused
// (bad-message) or disconnected: escape sequences removed, tabs expanded to the
// next multiple of 8 columns, other controls dropped, invalid UTF-8 as U+FFFD.
std::string clean_for_sending(std::string_view raw) {
  std::string out;
  std::size_t col = 0;
  std::size_t i = 0;
  while (i < raw.size()) {
    const auto c = static_cast<unsigned char>(raw[i]);
    if (c == 0x1B) {
      ++i;
      if (i < raw.size() && raw[i] == '[') {  // CSI: parameters, then a final byte
        ++i;
        while (i < raw.size() && (raw[i] < 0x40 || raw[i] > 0x7E)) {
          ++i;
        }
        ++i;
      } else if (i < raw.size() && raw[i] == ']') {  // OSC: up to BEL or ESC backslash
        while (i < raw.size() && raw[i] != '\a' && raw[i] != '\x1b') {
          ++i;
        }
        i += i < raw.size() && raw[i] == '\x1b' ? 2 : 1;
      } else {
        ++i;  // ESC and one character
      }
      continue;
    }
    if (c == '\t') {
      do {
        out += ' ';
        ++col;
      } while (col % 8 != 0);
      ++i;
      continue;
    }
    std::size_t k = i;
    const auto cp = proto::next_code_point(raw, k);
    if (!cp) {
      out += "\xEF\xBF\xBD";
      ++col;
      ++i;
      continue;
    }
    if (!proto::is_control(*cp)) {
      out.append(raw.substr(i, k - i));
      ++col;
    }
    i = k;
  }
  return out;
}

int run_plain(const Options& options, Connection& conn, const SignalPipe& wake, LogFile* log) {
  PlainDisplay display(STDOUT_FILENO,
                       options.stamps_given ? options.look.stamps : Look::Stamps::kOff);
  display.set_log(log);
  NickBook nicks;
  SessionState state;
  Receiver receiver(conn, options.nick, display, nicks, state, [&wake] { wake.wake(kWakeClosed); });
  bool refused = false;  // a line could not be sent: the exit says so at the end
  std::size_t line_number = 0;
  receiver.start();

  std::optional<Exit> exit;
  std::string pending;
  bool input_done = false;
  std::array<char, 4096> buf{};
  while (!exit) {
    std::array<pollfd, 3> fds{pollfd{wake.pipe_fd(), POLLIN, 0},
                              pollfd{input_done ? -1 : STDIN_FILENO, POLLIN, 0},
                              pollfd{wake.signal_fd(), POLLIN, 0}};
    const int r = ::poll(fds.data(), fds.size(), input_done ? kPlainDrainMs : -1);
    if (r < 0 && errno == EINTR) {
      continue;
    }
    if (r == 0) {
      exit = Exit{exit_code::kOk, ""};  // drained long enough after end of input
      break;
    }
    if (((fds[0].revents | fds[2].revents) & POLLIN) != 0) {
      for (const char c : wake.drain()) {
        if (exit) {
          break;
        }
        if (c == kWakeClosed) {
          receiver.stop();
          const CloseReason reason = receiver.reason();
          if (reason == CloseReason::kRejected && receiver.last_error_code() == "auth-failed") {
            std::fprintf(stderr, "chat_client: the server refused %s: %s\n", options.nick.c_str(),
                         options.password.empty()
                             ? "the nick is registered; give its password with --password-file"
                             : "wrong password");
          }
          // After our end of input the server closing is the normal ending.
          exit = Exit{
              input_done && reason == CloseReason::kClosed ? exit_code::kOk : close_code(reason),
              ""};
        } else if (c != kWakeResize) {
          exit = signal_exit(c);
        }
      }
      if (exit) {
        break;
      }
    }
    if ((fds[1].revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
      continue;
    }
    const ssize_t n = ::read(STDIN_FILENO, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n > 0) {
      pending.append(buf.data(), static_cast<std::size_t>(n));
    } else if (!pending.empty()) {
      pending += '\n';  // a last line without a newline still counts
    }
    std::size_t nl;
    while (!exit && (nl = pending.find('\n')) != std::string::npos) {
      std::string line = pending.substr(0, nl);
      pending.erase(0, nl + 1);
      if (!line.empty() && line.back() == '\r') {
        line.pop_back();
      }
      ++line_number;
      LineResult result = run_line(clean_for_sending(line), &conn, display, state);
      if (result.too_long) {
        std::fprintf(stderr, "chat_client: input line %zu is too long for one packet; not sent\n",
                     line_number);
        refused = true;
      }
      exit = std::move(result.exit);
    }
    if (n <= 0 && !exit) {
      // End of input: tell the server we are done and print what it still sends.
      input_done = true;
      receiver.expect_close();
      conn.finish_sending();
    }
  }
  receiver.stop();
  return exit->code == exit_code::kOk && refused ? exit_code::kDataErr : exit->code;
}

// The character set the terminal speaks, as the locale says; "" when it does not.
std::string locale_charset() {
  if (const char* set = std::setlocale(LC_CTYPE, ""); set != nullptr) {
    std::string charset = ::nl_langinfo(CODESET);
    std::setlocale(LC_CTYPE, "C");  // nothing else here depends on the locale
    return charset;
  }
  // A locale that is not installed still names what the terminal sends.
  for (const char* name : {"LC_ALL", "LC_CTYPE", "LANG"}) {
    const char* value = std::getenv(name);
    if (value != nullptr && *value != '\0') {
      const std::string_view v = value;
      const std::size_t dot = v.find('.');
      return dot == std::string_view::npos ? ""
                                           : std::string(v.substr(dot + 1, v.find('@') - dot - 1));
    }
  }
  return "";
}

// UTF-8, or the C locale's ASCII (which names no terminal encoding: assume UTF-8).
bool utf8_compatible(const std::string& charset) {
  std::string key;
  for (const char c : charset) {
    if (c != '-' && c != '_') {
      key += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  return key.empty() || key == "utf8" || key == "ansix3.41968" || key == "ascii" ||
         key == "usascii";
}

// TERM unset or "dumb": no cursor addressing, so plain lines.
bool dumb_terminal() {
  const char* term = std::getenv("TERM");
  return term == nullptr || *term == '\0' || std::string_view(term) == "dumb";
}

}  // namespace

int run_client(const Options& options) {
  if (::isatty(STDIN_FILENO) == 1 && ::isatty(STDOUT_FILENO) == 1 && !dumb_terminal()) {
    // Typed bytes in another encoding would be dropped as invalid UTF-8, and
    // received text shown as mojibake: refuse clearly instead.
    const std::string charset = locale_charset();
    if (!utf8_compatible(charset)) {
      std::fprintf(stderr,
                   "chat_client: the locale's character set is %s; chat_client reads and "
                   "writes UTF-8 only (try LANG=C.UTF-8 in a UTF-8 terminal)\n",
                   charset.c_str());
      return exit_code::kConfig;
    }
  }
  std::unique_ptr<LogFile> log;
  if (!options.log_file.empty()) {
    std::FILE* file = std::fopen(options.log_file.c_str(), "ae");
    if (file == nullptr) {
      std::fprintf(stderr, "chat_client: cannot open the log file %s: %s\n",
                   options.log_file.c_str(), std::strerror(errno));
      return exit_code::kCantCreate;
    }
    log = std::make_unique<LogFile>(file);
  }
  if (!options.password.empty() && !options.tls) {
    if (!options.allow_plaintext_password) {
      std::fprintf(stderr,
                   "chat_client: not sending the password of --password-file over a plain, "
                   "unencrypted connection: anyone on the way could read it. Use --tls, or "
                   "--allow-plaintext-password if you accept that.\n");
      return exit_code::kUsage;
    }
    std::fprintf(stderr,
                 "chat_client: warning: --allow-plaintext-password: the password goes to %s "
                 "unencrypted; anyone on the way can read it\n",
                 options.host.c_str());
  }
  // OpenSSL writes with plain write(): a peer's reset must not kill us by SIGPIPE.
  ::signal(SIGPIPE, SIG_IGN);
  TrustMemo memo;
  // Trust on first use asks only a person at a terminal.
  Opened opened = open_connection(options, options.password, memo, ::isatty(STDIN_FILENO) == 1);
  for (const auto& warning : opened.warnings) {
    std::fprintf(stderr, "chat_client: %s\n", warning.c_str());
  }
  if (!opened.conn) {
    std::fprintf(stderr, "chat_client: %s\n", opened.error.c_str());
    return opened.exit_code;
  }
  SignalPipe wake;
  if (!wake.ok()) {
    std::fprintf(stderr, "chat_client: cannot create a pipe\n");
    return exit_code::kOsError;
  }
  if (::isatty(STDIN_FILENO) == 1 && ::isatty(STDOUT_FILENO) == 1 && !dumb_terminal()) {
    return run_tty(options, std::move(opened.conn), memo, wake, log.get());
  }
  return run_plain(options, *opened.conn, wake, log.get());
}

}  // namespace chat::client
