// Option definitions and config-file loading with file:line errors.
#include "daemon/options.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "daemon/accounts.hpp"
#include "daemon/redis_loop.hpp"
#include "version.hpp"

namespace chat::daemon {

void define_options(CLI::App& app, Options& opts) {
  app.description("chatd: a small multi-user chat server (PROTOCOL.md part 1 and 2).");
  app.footer(
      "Without PORT, chatd expects listening sockets from systemd (LISTEN_FDS).\n"
      "Exit codes: 0 clean stop, 64 usage, 71 cannot listen or other OS error, 73 cannot "
      "create the control socket, 78 config error.");
  app.set_version_flag("--version", std::string("chatd ") + kVersion);
  app.add_option("PORT", opts.port, "TCP port to listen on (1-65535)")->check(CLI::Range(1, 65535));
  app.add_option("--port", opts.port, "Same as PORT (config key: port)")
      ->check(CLI::Range(1, 65535));
  app.add_option("--bind", opts.bind, "Address to bind (default: all IPv6 and IPv4 addresses)")
      ->type_name("ADDR");
  app.add_option("--tls-port", opts.tls_port,
                 "TCP port for TLS clients, served beside PORT (needs a certificate and key)")
      ->type_name("PORT")
      ->check(CLI::Range(1, 65535));
  app.add_option("--tls-cert", opts.tls_cert,
                 "PEM certificate, then its chain (default: the systemd credential tls-cert)")
      ->type_name("FILE");
  app.add_option("--tls-key", opts.tls_key,
                 "PEM private key, without passphrase (default: the systemd credential tls-key)")
      ->type_name("FILE");
  app.add_option("--max-clients", opts.max_clients,
                 "Most clients at once (0 = as many as descriptors allow)")
      ->type_name("N");
  app.add_option("--hello-timeout", opts.hello_timeout,
                 "Seconds a new connection has to send hello")
      ->type_name("SECONDS")
      ->check(CLI::Range(0.001, 86400.0));
  app.add_option("--sendq-limit", opts.sendq_limit,
                 "Bytes queued to one client before it is dropped as too slow")
      ->type_name("BYTES")
      ->check(CLI::Range(std::size_t{65537}, std::size_t{1} << 34));
  app.add_option("--history", opts.history, "Chat lines kept per room for newcomers (0 = off)")
      ->type_name("N")
      ->check(CLI::Range(std::size_t{0}, std::size_t{10000}));
  app.add_option("--flood-rate", opts.flood_rate,
                 "Packets per second one client may send on average (0 = no flood control)")
      ->type_name("N")
      ->check(CLI::Range(0.0, 1e9));
  app.add_option("--flood-burst", opts.flood_burst, "Packets one client may send at once")
      ->type_name("N")
      ->check(CLI::Range(1.0, 1e9));
  app.add_option("--history-bytes", opts.history_bytes,
                 "Bytes of chat lines kept per room for newcomers (the oldest go first)")
      ->type_name("BYTES")
      ->transform(CLI::AsSizeValue(false))
      ->check(CLI::Range(std::size_t{0}, std::size_t{1} << 34));
  app.add_option("--flood-bytes-rate", opts.flood_bytes_rate,
                 "Bytes per second one client may send on average (0 = no byte limit)")
      ->type_name("BYTES")
      ->check(CLI::Range(0.0, 1e12));
  app.add_option("--flood-bytes-burst", opts.flood_bytes_burst,
                 "Bytes one client may send at once (at least one whole frame, 65537)")
      ->type_name("BYTES")
      ->check(CLI::Range(65537.0, 1e12));
  app.add_option("--max-per-address", opts.max_per_address,
                 "Connections from one IP address, or one IPv6 /64 (0 = no limit)")
      ->type_name("N");
  app.add_option("--memory-budget", opts.memory_budget,
                 "Bytes of queued output, history and unparsed input over all clients; past "
                 "it the clients holding most are dropped (0 = no budget; suffixes K, M, G)")
      ->type_name("BYTES")
      ->transform(CLI::AsSizeValue(false))
      ->check(CLI::Range(std::size_t{0}, std::size_t{1} << 40));
  app.add_option("--stall-timeout", opts.stall_timeout,
                 "Seconds a client's queued output may make no progress before it is dropped "
                 "(0 = never)")
      ->type_name("SECONDS")
      ->check(CLI::Range(0.0, 86400.0));
  app.add_option("--control-socket", opts.control_socket,
                 "Unix control socket for chatctl (empty: none)")
      ->type_name("PATH");
  app.add_option("--state-directory", opts.state_directory,
                 "Directory of chatd's state (the account file); default $STATE_DIRECTORY, "
                 "else /var/lib/chatd")
      ->type_name("DIR");
  app.add_flag("--require-accounts", opts.require_accounts,
               "Only registered nicks may join (chatctl account add)");
  app.add_flag("--allow-plaintext-passwords", opts.allow_plaintext_passwords,
               "Check passwords sent over plain TCP instead of refusing them with tls-required");
  app.add_option("--admin-group", opts.admin_group,
                 "Group whose members may run every chatctl command (besides root)")
      ->type_name("GROUP");
  app.add_option("--read-group", opts.read_group,
                 "Group whose members may run chatctl's read-only commands (who, status, version)")
      ->type_name("GROUP");
  app.add_flag("--check-config", opts.check_config,
               "Check the config file (and the command line) and exit: 0 if it is good, "
               "78 naming file:line if not");
  app.add_option("--log-level", opts.log_level, "trace, debug, info, warning, error, critical, off")
      ->check(
          CLI::IsMember({"trace", "debug", "info", "warning", "warn", "error", "critical", "off"}));
  app.add_option("--log-target", opts.log_target, "auto, stderr or journal")
      ->check(CLI::IsMember({"auto", "stderr", "journal"}));
  app.add_option("--event-loop", opts.event_loop, "select (default) or epoll")
      ->check(CLI::IsMember({"select", "epoll"}));
  app.add_option("--engine", opts.engine,
                 "memory (default: one node) or redis (nodes sharing a redis-server; needs "
                 "--redis)")
      ->check(CLI::IsMember({"memory", "redis"}));
  app.add_option("--redis", opts.redis,
                 "Where Redis listens for --engine redis: unix:/path or HOST:PORT")
      ->type_name("ADDRESS")
      ->check(CLI::Validator(
          [](const std::string& value) {
            return RedisAddress::parse(value) ? std::string()
                                              : std::string("expected unix:/path or HOST:PORT");
          },
          "ADDRESS"));
  app.add_option("--redis-password-file", opts.redis_password_file,
                 "File whose first line is Redis's password (AUTH)")
      ->type_name("FILE");
  app.add_option("--node-name", opts.node_name,
                 "This node's name in the cluster, unique among the nodes (default: the host "
                 "name); letters, digits, '.', '_', '-'")
      ->type_name("NAME")
      ->check(CLI::Validator(
          [](const std::string& value) {
            const bool ok = !value.empty() && value.size() <= 64 &&
                            std::all_of(value.begin(), value.end(), [](char c) {
                              return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' ||
                                     c == '_' || c == '-';
                            });
            return ok ? std::string() : std::string("1-64 letters, digits, '.', '_' or '-'");
          },
          "NAME"));
  app.add_option("--presence-ttl", opts.presence_ttl,
                 "Seconds a node's users and nicks outlive it when it dies (--engine redis)")
      ->type_name("SECONDS")
      ->check(CLI::Range(0.5, 3600.0));
  app.add_option("--history-ttl", opts.history_ttl,
                 "Seconds a room's history stays in Redis after its last line (--engine redis; "
                 "default a week)")
      ->type_name("SECONDS")
      ->check(CLI::Range(60.0, 10 * 366 * 24 * 3600.0));
}

std::string node_name(const Options& opts) {
  if (!opts.node_name.empty()) {
    return opts.node_name;
  }
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') {
    return "chatd";
  }
  std::string name(host);
  for (char& c : name) {
    if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '.' && c != '_' && c != '-') {
      c = '_';
    }
  }
  return name;
}

std::string state_directory(const Options& opts) {
  if (!opts.state_directory.empty()) {
    return opts.state_directory;
  }
  if (const char* env = std::getenv("STATE_DIRECTORY"); env != nullptr && *env != '\0') {
    const std::string dirs(env);
    return dirs.substr(0, dirs.find(':'));  // systemd lists one per StateDirectory= entry
  }
  return "/var/lib/chatd";
}

std::string accounts_path(const Options& opts) {
  return state_directory(opts) + "/" + std::string(kAccountsFile);
}

namespace {

// Finds the line of the `nth` (0-based) occurrence of `key` in the config file,
// for error messages: a key given twice is reported where the bad value is.
int line_of(const std::string& path, const std::string& key, std::size_t nth) {
  std::ifstream in(path);
  std::string line;
  const std::regex re("^\\s*\"?" +
                      std::regex_replace(key, std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)") +
                      "\"?\\s*[=:]");
  int first = 0;
  for (int n = 1; std::getline(in, line); ++n) {
    if (std::regex_search(line, re)) {
      if (first == 0) {
        first = n;
      }
      if (nth-- == 0) {
        return n;
      }
    }
  }
  return first;
}

std::string where(const std::string& path, const std::string& key, std::size_t nth = 0) {
  const int line = line_of(path, key, nth);
  return line > 0 ? path + ":" + std::to_string(line) : path;
}

// CLI11 reports a word given to a numeric option as "not in range"; say what
// is wrong instead.
std::string explain(const CLI::ParseError& e, const std::string& value) {
  std::string what = e.what();
  if (what.find("not in range") != std::string::npos ||
      what.find("onvert") != std::string::npos ||  // "Could not convert", "could not be converted"
      what.find("unit not recognized") != std::string::npos) {
    // A number, maybe with a unit suffix (sizes: 256M): then CLI11's words stand.
    const std::regex number(R"(\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*[A-Za-z]*\s*)");
    if (!std::regex_match(value, number)) {
      return "'" + value + "' is not a number";
    }
  }
  return what;
}

// Checks each key of the config file on its own, so an error names its line.
std::optional<std::string> check_config(CLI::App& app, const std::string& path) {
  std::vector<CLI::ConfigItem> items;
  try {
    items = app.get_config_formatter()->from_file(path);
  } catch (const CLI::Error& e) {
    return path + ": " + e.what();
  }
  std::map<std::string, std::size_t> seen;  // occurrences so far, per key
  for (const auto& item : items) {
    if (item.name == "++" || item.name == "--") {
      continue;  // section markers
    }
    const std::string key = item.fullname();
    if (!item.parents.empty() && !(item.parents.size() == 1 && item.parents[0] == "default")) {
      return where(path, item.name) + ": unknown section for key '" + key + "'";
    }
    if (item.name == "config" || item.name == "help" || item.name == "version" ||
        item.name == "check-config" || app.get_option_no_throw("--" + item.name) == nullptr) {
      return where(path, item.name) + ": unknown key '" + item.name + "'";
    }
    // Each value on its own, counting the key's occurrences so the error names
    // the line that holds the bad one.
    for (const auto& value : item.inputs) {
      const std::size_t nth = seen[item.name]++;
      Options scratch;
      CLI::App probe;
      define_options(probe, scratch);
      // "--key=" would read as a missing value (see load_options): pass "" on its own.
      std::vector<std::string> args =
          value.empty() ? std::vector<std::string>{"", "--" + item.name}  // reversed for CLI11
                        : std::vector<std::string>{"--" + item.name + "=" + value};
      try {
        probe.parse(args);
      } catch (const CLI::ParseError& e) {
        return where(path, item.name, nth) + ": bad value for '" + item.name +
               "': " + explain(e, value);
      }
    }
  }
  return std::nullopt;
}

}  // namespace

LoadResult load_options(const std::vector<std::string>& raw_args) {
  // CLI11 2.1 reads "--opt=" (empty value) as "--opt" and takes the next word as
  // the value; "--control-socket=" must mean "no control socket".
  std::vector<std::string> args;
  for (const auto& a : raw_args) {
    if (a.size() > 3 && a.rfind("--", 0) == 0 && a.back() == '=' && a.find('=') == a.size() - 1) {
      args.push_back(a.substr(0, a.size() - 1));
      args.emplace_back();
    } else {
      args.push_back(a);
    }
  }
  LoadResult result;
  Options& opts = result.options;
  CLI::App app("chatd", "chatd");
  define_options(app, opts);
  auto* config = app.set_config("--config", kDefaultConfig, "Config file (INI/TOML key = value)");
  config->type_name("PATH");

  // First pass: the command line alone, to learn which config file to read.
  {
    Options first;
    CLI::App cli("chatd", "chatd");
    define_options(cli, first);
    cli.add_option("--config", first.config);
    std::vector<std::string> reversed(args.rbegin(), args.rend());
    try {
      cli.parse(reversed);
    } catch (const CLI::CallForHelp&) {
      result.exit_code = 0;
      result.message = app.help();
      return result;
    } catch (const CLI::CallForVersion&) {
      result.exit_code = 0;
      result.message = std::string("chatd ") + kVersion + "\n";
      return result;
    } catch (const CLI::ParseError& e) {
      result.exit_code = kExitUsage;
      result.message =
          std::string("chatd: ") + e.what() + "\nRun with --help for more information.\n";
      return result;
    }
    const bool explicit_config = cli.count("--config") > 0;
    std::ifstream probe(first.config);
    if (!probe) {
      if (explicit_config) {
        result.exit_code = kExitConfig;
        result.message = "chatd: cannot read config file " + first.config + "\n";
        return result;
      }
    } else if (auto err = check_config(app, first.config)) {
      result.exit_code = kExitConfig;
      result.message = "chatd: " + *err + "\n";
      return result;
    }
    opts.config = first.config;
  }

  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    // The command line passed alone, so what fails now comes from the file.
    result.exit_code = kExitConfig;
    result.message = "chatd: " + opts.config + ": " + e.what() + "\n";
    return result;
  }
  opts.config = config->as<std::string>();
  if (opts.engine == "redis" && opts.redis.empty()) {
    result.exit_code = kExitUsage;
    result.message =
        "chatd: --engine redis needs --redis ADDRESS (unix:/path or HOST:PORT)\n"
        "Run with --help for more information.\n";
    return result;
  }
  return result;
}

}  // namespace chat::daemon
