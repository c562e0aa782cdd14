// chatd's options: one definition shared by the command line and the config file.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace chat::daemon {

struct Options {
  std::optional<std::uint16_t> port;
  std::string bind;
  std::size_t max_clients = 0;
  double hello_timeout = 10.0;
  std::size_t sendq_limit = std::size_t{4} * 1024 * 1024;
  std::size_t history = 20;
  double flood_rate = 50.0;
  double flood_burst = 200.0;
  std::size_t max_per_address = 0;
  std::string control_socket = "/run/chatd/chatd.ctl";
  std::string admin_group;
  std::string read_group;     // members may run chatctl's read-only commands
  bool check_config = false;  // --check-config: validate and exit (0 or 78)
  std::string log_level = "info";
  std::string log_target = "auto";
  std::string event_loop = "select";
  std::string config = "/etc/chatd/chatd.conf";
};

inline constexpr const char* kDefaultConfig = "/etc/chatd/chatd.conf";

// Exit codes (sysexits.h).
inline constexpr int kExitUsage = 64;
inline constexpr int kExitUnavailable = 69;
inline constexpr int kExitOsErr = 71;
inline constexpr int kExitCantCreate = 73;
inline constexpr int kExitConfig = 78;

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
