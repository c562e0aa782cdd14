// The client's two modes (terminal UI, plain lines) and the exit codes that say why it ended.
#pragma once

#include <sysexits.h>

#include <string>

#include "client/screen.hpp"

namespace chat::client {

// Exit codes (sysexits(3) where one fits, 128+signal for signals, like a shell).
namespace exit_code {
inline constexpr int kOk = 0;                // /q, Ctrl-D, end of input in plain mode
inline constexpr int kUsage = EX_USAGE;      // 64: bad arguments
inline constexpr int kDataErr = EX_DATAERR;  // 65: plain mode: an input line was refused
inline constexpr int kNoInput = EX_NOINPUT;  // 66: --password-file or --ca-file cannot be used
inline constexpr int kUnavailable = EX_UNAVAILABLE;  // 69: cannot connect, or the server closed
inline constexpr int kSoftware = EX_SOFTWARE;        // 70: internal error
inline constexpr int kOsError = EX_OSERR;         // 71: cannot set up the terminal, pipes, threads
inline constexpr int kCantCreate = EX_CANTCREAT;  // 73: the --log-file cannot be opened
inline constexpr int kProtocol = EX_PROTOCOL;     // 76: the server refused us (error, then close)
inline constexpr int kUntrusted = EX_NOPERM;      // 77: the server's certificate is not trusted
inline constexpr int kConfig = EX_CONFIG;         // 78: the terminal's locale is not UTF-8
// 79: the certificate differs from the one remembered (known_servers): outside
// sysexits on purpose, so that no other failure can be mistaken for it.
inline constexpr int kCertChanged = 79;
inline constexpr int kHangup = 128 + 1;       // SIGHUP: the terminal went away
inline constexpr int kInterrupted = 128 + 2;  // Ctrl-C or SIGINT
inline constexpr int kTerminated = 128 + 15;  // SIGTERM
}  // namespace exit_code

struct Options {
  std::string nick;
  std::string host;
  std::string port;
  Look look;
  // Whether --timestamps was given: plain mode stamps lines only when asked.
  bool stamps_given = false;
  // Terminal UI: after a dropped connection, connect again (--no-reconnect: exit 69).
  bool reconnect = true;
  std::string log_file;  // --log-file: "" for none
  bool tls = false;      // --tls
  std::string ca_file;   // --ca-file: trust this CA instead of the system's
  // --password-file's first line; "" for none (then asked for when the server says
  // the nick is registered, in the terminal UI).
  std::string password;
  bool allow_plaintext_password = false;
  int connect_timeout_ms = 10000;  // TCP connect, and the TLS handshake
};

// Connects, sends hello, runs the terminal UI when stdin and stdout are both
// terminals and plain line mode otherwise; returns the exit code.
int run_client(const Options& options);

}  // namespace chat::client
