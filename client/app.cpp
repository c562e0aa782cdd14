// Start-up, the main thread's keyboard/stdin loop in both modes, signals and clean exit.
#include "client/app.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <optional>
#include <string>

#include "client/commands.hpp"
#include "client/keys.hpp"
#include "client/line_editor.hpp"
#include "client/receiver.hpp"
#include "client/screen.hpp"
#include "client/terminal.hpp"
#include "common/net.hpp"
#include "common/unique_fd.hpp"
#include "protocol/codec.hpp"
#include "protocol/frame.hpp"

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

bool send_packet(int sock, const proto::ClientPacket& packet) {
  const auto frame = proto::Frame::make(proto::encode(packet));
  if (!frame) {
    return false;  // too long for one frame: nothing is sent
  }
  std::string_view rest = frame->bytes();
  while (!rest.empty()) {
    const ssize_t n = ::send(sock, rest.data(), rest.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return false;
    }
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
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

// Runs one typed line; an exit when it quits.
std::optional<Exit> run_line(std::string_view line, int sock, Display& display) {
  const Action action = interpret(line);
  if (const auto* send = std::get_if<SendAction>(&action)) {
    // A failed send means the connection is gone; the receiver reports that.
    (void)send_packet(sock, send->packet);
  } else if (std::holds_alternative<QuitAction>(action)) {
    return Exit{exit_code::kOk, ""};
  } else if (const auto* local = std::get_if<LocalAction>(&action)) {
    for (const auto& l : local->lines) {
      display.add_line(Line{l});
    }
  }
  return std::nullopt;
}

int run_tty(const Options& options, int sock, const SignalPipe& wake) {
  RawMode raw(STDIN_FILENO);
  if (!raw.ok()) {
    std::fprintf(stderr, "chat_client: cannot put the terminal in raw mode\n");
    return exit_code::kOsError;
  }
  Screen screen(STDOUT_FILENO, options.nick, window_size(STDOUT_FILENO));
  screen.start();
  NickBook nicks;
  Receiver receiver(sock, options.nick, screen, nicks, [&wake] { wake.wake(kWakeClosed); });
  receiver.start();

  LineEditor editor;
  KeyDecoder keys;
  std::optional<Exit> exit;
  std::array<char, 4096> buf{};
  while (!exit) {
    std::array<pollfd, 3> fds{pollfd{STDIN_FILENO, POLLIN, 0}, pollfd{wake.pipe_fd(), POLLIN, 0},
                              pollfd{wake.signal_fd(), POLLIN, 0}};
    const int r = ::poll(fds.data(), fds.size(), keys.pending() ? kEscapeTimeoutMs : -1);
    if (r < 0 && errno == EINTR) {
      continue;
    }
    if (r == 0) {
      keys.flush();
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
          receiver.stop();
          exit = Exit{close_code(receiver.reason()), ""};
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
      switch (key.kind) {
        case Key::Kind::kText:
          editor.insert(key.cp);
          break;
        case Key::Kind::kEnter:
          exit = run_line(editor.take_line(), sock, screen);
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
          exit = Exit{exit_code::kInterrupted, "*** interrupted"};
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
      screen.set_input(editor.code_points(), editor.cursor());
    }
  }
  receiver.stop();  // before the screen is restored: no line may follow the restore
  screen.finish(exit->farewell);
  return exit->code;
}

int run_plain(int sock, const SignalPipe& wake) {
  PlainDisplay display(STDOUT_FILENO);
  NickBook nicks;
  Receiver receiver(sock, "", display, nicks, [&wake] { wake.wake(kWakeClosed); });
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
      exit = run_line(line, sock, display);
    }
    if (n <= 0 && !exit) {
      // End of input: tell the server we are done and print what it still sends.
      input_done = true;
      receiver.expect_close();
      ::shutdown(sock, SHUT_WR);
    }
  }
  receiver.stop();
  return exit->code;
}

}  // namespace

int run_client(const Options& options) {
  std::string error;
  UniqueFd sock = net::connect_tcp(options.host, options.port, error);
  if (!sock) {
    std::fprintf(stderr, "chat_client: %s\n", error.c_str());
    return exit_code::kUnavailable;
  }
  SignalPipe wake;
  if (!wake.ok()) {
    std::fprintf(stderr, "chat_client: cannot create a pipe\n");
    return exit_code::kOsError;
  }
  if (!send_packet(sock.get(), proto::Hello{options.nick, proto::known_caps()})) {
    std::fprintf(stderr, "chat_client: cannot send hello to %s port %s\n", options.host.c_str(),
                 options.port.c_str());
    return exit_code::kUnavailable;
  }
  if (::isatty(STDIN_FILENO) == 1 && ::isatty(STDOUT_FILENO) == 1) {
    return run_tty(options, sock.get(), wake);
  }
  return run_plain(sock.get(), wake);
}

}  // namespace chat::client
