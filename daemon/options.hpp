// chatd's options: one definition shared by the command line and the config file.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "daemon/defaults.hpp"

namespace chat::daemon {

struct Options {
  std::optional<std::uint16_t> port;
  std::string bind;
  std::optional<std::uint16_t> tls_port;
  std::string tls_cert;  // PEM chain; empty: systemd credential "tls-cert" if any
  std::string tls_key;   // PEM key; empty: systemd credential "tls-key" if any
  std::size_t max_clients = 0;
  double hello_timeout = defaults::kHelloTimeoutSeconds;
  std::size_t sendq_limit = defaults::kSendqLimit;
  std::size_t history = defaults::kHistoryLines;
  std::size_t history_bytes = defaults::kHistoryBytes;
  double flood_rate = defaults::kFloodRate;
  double flood_burst = defaults::kFloodBurst;
  double flood_bytes_rate = defaults::kFloodBytesRate;
  double flood_bytes_burst = defaults::kFloodBytesBurst;
  std::size_t max_per_address = defaults::kMaxPerAddress;
  std::size_t memory_budget = defaults::kMemoryBudget;
  double stall_timeout = defaults::kStallTimeoutSeconds;
  std::string control_socket = "/run/chatd/chatd.ctl";
  // Where the account file lives; empty: $STATE_DIRECTORY (systemd's
  // StateDirectory=chatd), else /var/lib/chatd (see state_directory()).
  std::string state_directory;
  bool require_accounts = false;           // only registered nicks may join
  bool allow_plaintext_passwords = false;  // accept passwords without TLS
  std::string admin_group;
  std::string read_group;     // members may run chatctl's read-only commands
  bool check_config = false;  // --check-config: validate and exit (0 or 78)
  std::string log_level = "info";
  std::string log_target = "auto";
  std::string event_loop = "select";
  // The engine (issue 15): memory (one node) or redis (nodes sharing a redis-server).
  std::string engine = "memory";
  std::string redis;                // unix:/path or HOST:PORT
  std::string redis_password_file;  // AUTH with its first line
  std::string node_name;            // empty: the host name
  double presence_ttl = defaults::kPresenceTtlSeconds;
  double history_ttl = defaults::kHistoryTtlSeconds;
  std::string config = "/etc/chatd/chatd.conf";
};

inline constexpr const char* kDefaultConfig = "/etc/chatd/chatd.conf";

// Exit codes (sysexits.h).
inline constexpr int kExitUsage = 64;
inline constexpr int kExitUnavailable = 69;
inline constexpr int kExitOsErr = 71;
inline constexpr int kExitCantCreate = 73;
inline constexpr int kExitConfig = 78;

// Calls f(key, &Options::member) for each setting a reload (SIGHUP) applies.
template <typename F>
void for_each_reloadable(F&& f) {
  f("log-level", &Options::log_level);
  f("max-clients", &Options::max_clients);
  f("hello-timeout", &Options::hello_timeout);
  f("sendq-limit", &Options::sendq_limit);
  f("history", &Options::history);
  f("history-bytes", &Options::history_bytes);
  f("flood-rate", &Options::flood_rate);
  f("flood-burst", &Options::flood_burst);
  f("flood-bytes-rate", &Options::flood_bytes_rate);
  f("flood-bytes-burst", &Options::flood_bytes_burst);
  f("max-per-address", &Options::max_per_address);
  f("memory-budget", &Options::memory_budget);
  f("stall-timeout", &Options::stall_timeout);
  // Re-read on every reload even when the paths stay (ACME renewals replace the files).
  f("tls-cert", &Options::tls_cert);
  f("tls-key", &Options::tls_key);
  f("require-accounts", &Options::require_accounts);
  f("allow-plaintext-passwords", &Options::allow_plaintext_passwords);
}

// The state directory in effect: --state-directory, else the first entry of
// $STATE_DIRECTORY, else /var/lib/chatd.
std::string state_directory(const Options& opts);
// The account file inside it.
std::string accounts_path(const Options& opts);

// --node-name in effect: the option, else the host name.
std::string node_name(const Options& opts);

// Adds every option to `app`, bound to `opts`.
void define_options(CLI::App& app, Options& opts);

// Result of loading the command line and the config file.
struct LoadResult {
  int exit_code = -1;   // >= 0: stop with this code (after --help, or an error)
  std::string message;  // what to print (to stdout for --help/--version, else stderr)
  Options options;
};

// Parses argv, then the config file (the command line wins). Config errors name
// the file and line.
LoadResult load_options(const std::vector<std::string>& args);

}  // namespace chat::daemon
