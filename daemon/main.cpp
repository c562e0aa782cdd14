// chatd entry point: options, sockets, signals, systemd state, then the event loop.
#include <fcntl.h>
#include <grp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <optional>
#include <system_error>

#include <spdlog/spdlog.h>

#include "common/net.hpp"
#include "daemon/control.hpp"
#include "daemon/control_backend.hpp"
#include "daemon/event_loop.hpp"
#include "daemon/listener.hpp"
#include "daemon/logging.hpp"
#include "daemon/options.hpp"
#include "daemon/redis_engine.hpp"
#include "daemon/server.hpp"
#include "daemon/systemd.hpp"
#include "daemon/tls.hpp"
#include "version.hpp"

namespace {

using chat::UniqueFd;
using namespace chat::daemon;

int g_signal_pipe = -1;

extern "C" void on_signal(int signo) {
  const int saved = errno;
  const auto byte = static_cast<unsigned char>(signo);
  (void)!::write(g_signal_pipe, &byte, 1);
  errno = saved;
}

Limits limits_from(const Options& o) {
  Limits l;
  l.max_clients = o.max_clients;
  l.hello_timeout = defaults::to_ms(o.hello_timeout);
  l.sendq_limit = o.sendq_limit;
  l.history = o.history;
  l.history_bytes = o.history_bytes;
  l.flood_rate = o.flood_rate;
  l.flood_burst = o.flood_burst;
  l.flood_bytes_rate = o.flood_bytes_rate;
  l.flood_bytes_burst = o.flood_bytes_burst;
  l.max_per_address = o.max_per_address;
  l.memory_budget = o.memory_budget;
  l.stall_timeout = defaults::to_ms(o.stall_timeout);
  l.require_accounts = o.require_accounts;
  l.allow_plaintext_passwords = o.allow_plaintext_passwords;
  return l;
}

spdlog::level::level_enum level_from(const std::string& name) {
  return name == "warning" ? spdlog::level::warn : spdlog::level::from_str(name);
}

// Raises the soft descriptor limit to the hard one; the client limit follows it.
rlim_t raise_nofile() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) {
    return 0;
  }
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
    ::getrlimit(RLIMIT_NOFILE, &rl);
  }
  return rl.rlim_cur;
}

// The log's detail for a load error: chatd's stderr text without the
// "chatd: " prefix and the final newline (a field holds one line).
std::string load_error_detail(std::string message) {
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
    message.pop_back();
  }
  if (message.rfind("chatd: ", 0) == 0) {
    message.erase(0, 7);
  }
  return message;
}

// A group named in the config, looked up; nullopt with `error` set if it does not exist.
std::optional<gid_t> find_group(const std::string& option, const std::string& name,
                                std::string& error) {
  const group* g = ::getgrnam(name.c_str());
  if (g == nullptr) {
    error = option + " '" + name + "' does not exist";
    return std::nullopt;
  }
  return g->gr_gid;
}

// A config error under socket activation: accept and close what waits on the
// listeners before exiting, so systemd does not start chatd again at once for
// the same pending connection (its trigger limit would then fail the socket
// and close the port; see chatd.service).
void drain_listeners() {
  auto inherited = chat::daemon::systemd::take_listen_fds();
  for (auto* group : {&inherited.chat, &inherited.tls, &inherited.ctl}) {
    for (const auto& fd : *group) {
      chat::net::set_nonblocking(fd.get());
      for (int i = 0; i < 1024; ++i) {
        const int c = ::accept4(fd.get(), nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) {
          break;
        }
        ::close(c);
      }
    }
  }
}

// The certificate and key files: the options, else systemd's credentials.
std::string tls_cert_file(const Options& o) {
  return o.tls_cert.empty() ? credential_path("tls-cert") : o.tls_cert;
}
std::string tls_key_file(const Options& o) {
  return o.tls_key.empty() ? credential_path("tls-key") : o.tls_key;
}

// Loads the TLS context the options name; nullopt with `error` saying which
// file is wrong (or that one is missing).
std::optional<TlsContext> load_tls(const Options& o, std::string& error) {
  const std::string cert = tls_cert_file(o);
  const std::string key = tls_key_file(o);
  if (cert.empty() || key.empty()) {
    error = std::string(
                "TLS needs a certificate and a key: --tls-cert and --tls-key (or the "
                "systemd credentials tls-cert and tls-key); missing: ") +
            (cert.empty() ? (key.empty() ? "both" : "tls-cert") : "tls-key");
    return std::nullopt;
  }
  return load_tls_context(cert, key, error);
}

// --check-config: everything a start would reject in the configuration
// itself (the file's syntax and values were checked by load_options).
int check_config(const Options& opts) {
  std::string error;
  if (!opts.admin_group.empty() && !find_group("admin-group", opts.admin_group, error)) {
    std::cerr << "chatd: " << opts.config << ": " << error << "\n";
    return kExitConfig;
  }
  if (!opts.read_group.empty() && !find_group("read-group", opts.read_group, error)) {
    std::cerr << "chatd: " << opts.config << ": " << error << "\n";
    return kExitConfig;
  }
  sockaddr_un addr{};
  if (!opts.control_socket.empty() && !chat::net::make_unix_address(opts.control_socket, addr)) {
    std::cerr << "chatd: " << opts.config << ": control-socket path is longer than "
              << chat::net::max_unix_path() << " bytes\n";
    return kExitConfig;
  }
  // The certificate and key, when TLS is asked for (or files are named).
  if (opts.tls_port || !tls_cert_file(opts).empty() || !tls_key_file(opts).empty()) {
    if (!load_tls(opts, error)) {
      std::cerr << "chatd: " << error << "\n";
      return kExitConfig;
    }
  }
  auto accounts = AccountStore::load(accounts_path(opts));
  if (auto* err = std::get_if<std::string>(&accounts)) {
    std::cerr << "chatd: " << *err << "\n";
    return kExitConfig;
  }
  std::cout << "chatd: configuration OK (" << opts.config << ")\n";
  return 0;
}

std::string status_line(const Server& server) {
  return fmt::format(
      "{} client{} in {} room{}; limit {}{}", server.client_count(),
      server.client_count() == 1 ? "" : "s", server.hub().room_count(),
      server.hub().room_count() == 1 ? "" : "s", server.effective_max_clients(),
      server.hub().engine().available() ? "" : "; degraded: other nodes unreachable");
}

// The first line of --redis-password-file; nullopt if it cannot be read.
std::optional<std::string> read_password(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) {
    return std::nullopt;
  }
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) {
    line.pop_back();
  }
  return line;
}

// SIGHUP: re-read the config; apply what can change while running.
void reload(const std::vector<std::string>& args, Options& current, Server& server) {
  chat::daemon::systemd::notify_reloading();
  auto loaded = load_options(args);
  if (loaded.exit_code >= 0) {
    spdlog::error("event=reload-failed detail={}", log_value(load_error_detail(loaded.message)));
  } else {
    Options& next = loaded.options;
    if (server.tls_context() != nullptr) {
      // A new certificate for new connections; on any error the old one stays.
      std::string error;
      if (auto ctx = load_tls(next, error)) {
        spdlog::info("event=tls-reloaded cert={} key={} not_after={}", log_value(ctx->cert_file),
                     log_value(ctx->key_file), ctx->not_after_text);
        server.set_tls_context(std::move(*ctx));
      } else {
        spdlog::error("event=tls-reload-failed detail={} kept={}", log_value(error),
                      log_value(server.tls_context()->cert_file));
        next.tls_cert = current.tls_cert;
        next.tls_key = current.tls_key;
      }
    }
    // Each change is logged before the new log level applies, so lowering the
    // level still leaves a record of the reload.
    for_each_reloadable([&](const char* key, auto member) {
      if (current.*member != next.*member) {
        spdlog::info("event=reload key={} from={} to={}", key,
                     log_value(fmt::format("{}", current.*member)),
                     log_value(fmt::format("{}", next.*member)));
        current.*member = next.*member;
      }
    });
    spdlog::set_level(level_from(next.log_level));
    server.set_limits(limits_from(next));
  }
  // The account file too (edited by hand, or restored from a backup); a bad one
  // leaves the accounts in use as they were.
  auto accounts = AccountStore::load(server.accounts().path());
  if (auto* err = std::get_if<std::string>(&accounts)) {
    spdlog::error("event=reload-failed detail={} kept_accounts={}", log_value(*err),
                  server.accounts().size());
  } else {
    server.set_accounts(std::move(std::get<AccountStore>(accounts)));
    spdlog::info("event=accounts-reloaded accounts={}", server.accounts().size());
  }
  if (loaded.exit_code < 0) {
    spdlog::info("event=reloaded max_clients={}", server.effective_max_clients());
  }
  chat::daemon::systemd::notify_ready(status_line(server));
}

int run(const std::vector<std::string>& args) {
  auto loaded = load_options(args);
  if (loaded.exit_code >= 0) {
    (loaded.exit_code == 0 ? std::cout : std::cerr) << loaded.message;
    if (loaded.exit_code == kExitConfig) {
      drain_listeners();
    }
    return loaded.exit_code;
  }
  Options opts = loaded.options;
  if (opts.check_config) {
    return check_config(opts);
  }

  LogTarget target = opts.log_target == "journal"  ? LogTarget::kJournal
                     : opts.log_target == "stderr" ? LogTarget::kStderr
                                                   : LogTarget::kAuto;
  setup_logging(target, level_from(opts.log_level));

  // Registered nicks: a file that cannot be read as a whole stops the start (78),
  // so no registered nick is ever served as unregistered.
  auto loaded_accounts = AccountStore::load(accounts_path(opts));
  if (auto* err = std::get_if<std::string>(&loaded_accounts)) {
    spdlog::critical("event=start-failed detail={}", log_value(*err));
    if (target != LogTarget::kStderr) {
      std::cerr << "chatd: " << *err << "\n";
    }
    drain_listeners();
    return kExitConfig;
  }

  // The Redis engine's password, read before anything listens.
  std::string redis_password;
  if (opts.engine == "redis" && !opts.redis_password_file.empty()) {
    auto password = read_password(opts.redis_password_file);
    if (!password) {
      const std::string detail = "cannot read the Redis password file " + opts.redis_password_file;
      spdlog::critical("event=start-failed detail={}", log_value(detail));
      if (target != LogTarget::kStderr) {
        std::cerr << "chatd: " << detail << "\n";
      }
      drain_listeners();
      return kExitConfig;
    }
    redis_password = std::move(*password);
  }

  // Sockets: systemd's if it passed any, else our own on PORT.
  auto inherited = chat::daemon::systemd::take_listen_fds();
  for (const auto& name : inherited.ignored) {
    spdlog::warn("event=ignored-socket name={}", log_value(name));
  }
  std::vector<UniqueFd> listeners;
  std::vector<UniqueFd> tls_listeners;
  std::string error;
  if (!inherited.chat.empty() || !inherited.tls.empty()) {
    if (opts.tls_port) {
      spdlog::warn("event=port-ignored port={} reason=socket-activation", *opts.tls_port);
    }
    for (auto& fd : inherited.tls) {
      if (!prepare_listener(fd.get(), error)) {
        spdlog::critical("event=start-failed detail={}", log_value(error));
        return kExitOsErr;
      }
      tls_listeners.push_back(std::move(fd));
    }
  }
  if (!inherited.chat.empty()) {
    if (opts.port) {
      spdlog::warn("event=port-ignored port={} reason=socket-activation", *opts.port);
    }
    for (auto& fd : inherited.chat) {
      if (!prepare_listener(fd.get(), error)) {
        spdlog::critical("event=start-failed detail={}", log_value(error));
        return kExitOsErr;
      }
      listeners.push_back(std::move(fd));
    }
  } else if (opts.port || (opts.tls_port && inherited.tls.empty())) {
    if (opts.port) {
      listeners = bind_listeners(opts.bind, *opts.port, error);
      if (listeners.empty()) {
        spdlog::critical("event=start-failed detail={}", log_value(error));
        return kExitOsErr;
      }
    }
    if (opts.tls_port) {
      tls_listeners = bind_listeners(opts.bind, *opts.tls_port, error);
      if (tls_listeners.empty()) {
        spdlog::critical("event=start-failed detail={}", log_value(error));
        return kExitOsErr;
      }
    }
  } else if (!tls_listeners.empty()) {
    // TLS only (chatd-tls.socket without chatd.socket).
  } else {
    std::cerr << "chatd: no PORT given and no listening socket passed by systemd\n"
                 "Usage: chatd [OPTIONS] PORT   (chatd --help for more)\n";
    return kExitUsage;
  }

  std::optional<TlsContext> tls;
  if (!tls_listeners.empty()) {
    tls = load_tls(opts, error);
    if (!tls) {
      spdlog::critical("event=start-failed detail={}", log_value(error));
      for (auto& fd : tls_listeners) {
        inherited.tls.push_back(std::move(fd));  // drained below like the others
      }
      for (auto& fd : listeners) {
        inherited.chat.push_back(std::move(fd));
      }
      for (auto* group : {&inherited.chat, &inherited.tls}) {
        for (const auto& fd : *group) {
          for (int i = 0; i < 1024; ++i) {
            const int c = ::accept4(fd.get(), nullptr, nullptr, SOCK_CLOEXEC);
            if (c < 0) {
              break;
            }
            ::close(c);
          }
        }
      }
      return kExitConfig;
    }
  }

  const rlim_t nofile = raise_nofile();
  const auto backend =
      opts.event_loop == "epoll" ? EventLoop::Backend::kEpoll : EventLoop::Backend::kSelect;
  auto loop = EventLoop::create(backend);
  if (!loop) {
    spdlog::critical(
        "event=start-failed detail={}",
        log_value(std::string("cannot create the event loop: ") + std::strerror(errno)));
    return kExitOsErr;
  }

  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_NONBLOCK | O_CLOEXEC) != 0) {
    spdlog::critical("event=start-failed detail=pipe");
    return kExitOsErr;
  }
  UniqueFd signal_read(pipe_fds[0]);
  UniqueFd signal_write(pipe_fds[1]);
  g_signal_pipe = signal_write.get();
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  for (const int sig : {SIGTERM, SIGINT, SIGHUP}) {
    ::sigaction(sig, &sa, nullptr);
  }
  std::signal(SIGPIPE, SIG_IGN);

  std::vector<std::string> listen_names;
  listen_names.reserve(listeners.size() + tls_listeners.size());
  for (const auto& l : listeners) {
    listen_names.push_back(chat::net::local_name(l.get()));
  }
  for (const auto& l : tls_listeners) {
    listen_names.push_back("tls:" + chat::net::local_name(l.get()));
  }
  // The Redis engine connects before the server takes clients, so that the
  // first hellos find the cluster (bounded: past it chatd starts degraded and
  // keeps trying).
  std::unique_ptr<RedisEngine> redis_engine;
  if (opts.engine == "redis") {
    RedisEngineConfig rc;
    rc.address = *RedisAddress::parse(opts.redis);
    rc.password = redis_password;
    rc.node = node_name(opts);
    rc.presence_ttl = defaults::to_ms(opts.presence_ttl);
    rc.history_ttl = defaults::to_ms(opts.history_ttl);
    rc.history = {opts.history, opts.history_bytes};
    redis_engine = std::make_unique<RedisEngine>(*loop, rc);
    redis_engine->start();
    const auto deadline = loop->now() + rc.connect_timeout + std::chrono::seconds(1);
    while (!redis_engine->available() && loop->now() < deadline) {
      loop->run_once(std::chrono::milliseconds(50));
    }
    if (!redis_engine->available()) {
      spdlog::warn("event=redis-unavailable-at-start address={} node={}", log_value(opts.redis),
                   log_value(rc.node));
    }
  }
  std::optional<Server> server_storage;
  try {
    server_storage.emplace(*loop, std::move(listeners), limits_from(opts), redis_engine.get());
  } catch (const std::system_error& e) {
    spdlog::critical("event=start-failed detail={}", log_value(e.what()));
    return kExitOsErr;
  }
  Server& server = *server_storage;
  // STATUS= when clients, rooms or the cluster's state change: at most four a second
  // however fast clients come and go, and never waiting for the service manager. If
  // its queue is full the then-current line goes out later, so the last state is
  // always reported.
  constexpr auto kStatusEvery = std::chrono::milliseconds(250);
  bool status_armed = false;
  auto last_status = loop->now() - std::chrono::seconds(1);
  std::function<void()> send_status = [&] {
    last_status = loop->now();
    if (chat::daemon::systemd::notify_status(status_line(server))) {
      status_armed = false;
    } else {
      loop->add_timer(loop->now() + kStatusEvery, send_status);
    }
  };
  const std::function<void()> report_status = [&] {
    if (!status_armed) {
      status_armed = true;
      loop->add_timer(std::max(loop->now(), last_status + kStatusEvery), send_status);
    }
  };
  if (tls) {
    spdlog::info("event=tls-loaded cert={} key={} not_after={}", log_value(tls->cert_file),
                 log_value(tls->key_file), tls->not_after_text);
    if (!server.add_tls_listeners(std::move(tls_listeners), std::move(*tls))) {
      spdlog::critical("event=start-failed detail={}", log_value("cannot watch a TLS listener"));
      return kExitOsErr;
    }
  }
  server.set_accounts(std::move(std::get<AccountStore>(loaded_accounts)));
  if (redis_engine) {
    redis_engine->attach(&server.hub());
    redis_engine->set_on_state_change(report_status);
  }

  // The control socket: systemd's `ctl` socket, or our own at --control-socket.
  // Every failure to set it up exits 73 (EX_CANTCREAT), as documented.
  std::optional<gid_t> admin_gid;
  std::optional<gid_t> read_gid;
  if (!opts.admin_group.empty() &&
      !(admin_gid = find_group("admin-group", opts.admin_group, error))) {
    spdlog::critical("event=start-failed detail={}", log_value(error));
    return kExitConfig;
  }
  if (!opts.read_group.empty() && !(read_gid = find_group("read-group", opts.read_group, error))) {
    spdlog::critical("event=start-failed detail={}", log_value(error));
    return kExitConfig;
  }
  ServerControl control_backend(server, loop->name());
  std::unique_ptr<ControlServer> control;
  std::string control_path = "none";
  try {
    if (!inherited.ctl.empty()) {
      control_path = "systemd";
      control = std::make_unique<ControlServer>(
          *loop, control_backend, std::move(inherited.ctl.front()), admin_gid, read_gid);
    } else if (!opts.control_socket.empty()) {
      // With a read group, anyone may connect and the credentials decide.
      auto created = ControlServer::create_socket(opts.control_socket, read_gid ? 0666 : 0660);
      if (auto* err = std::get_if<std::string>(&created)) {
        spdlog::critical("event=start-failed detail={}", log_value(*err));
        return kExitCantCreate;
      }
      control_path = opts.control_socket;
      control = std::make_unique<ControlServer>(
          *loop, control_backend, std::move(std::get<UniqueFd>(created)), admin_gid, read_gid);
      control->unlink_on_exit(opts.control_socket);
    }
  } catch (const std::exception& e) {
    spdlog::critical("event=start-failed detail={}", log_value(e.what()));
    if (!opts.control_socket.empty() && inherited.ctl.empty()) {
      ::unlink(opts.control_socket.c_str());
    }
    return kExitCantCreate;
  }

  const bool signals_watched = loop->add(signal_read.get(), kRead, [&](unsigned) {
    unsigned char sig = 0;
    while (::read(signal_read.get(), &sig, 1) == 1) {
      if (sig == SIGHUP) {
        spdlog::info("event=signal signal=SIGHUP action=reload");
        reload(args, opts, server);
      } else {
        spdlog::info("event=signal signal={} action=shutdown",
                     sig == SIGINT ? "SIGINT" : "SIGTERM");
        chat::daemon::systemd::notify_stopping();
        server.stop();
      }
    }
  });
  if (!signals_watched) {
    spdlog::critical("event=start-failed detail={}", log_value("cannot watch the signal pipe"));
    return kExitOsErr;
  }

  // The watchdog's ping, on the loop's timers: a loop that stops turning stops pinging.
  std::function<void()> ping;
  if (const auto watchdog = chat::daemon::systemd::watchdog_interval()) {
    ping = [&, interval = *watchdog] {
      chat::daemon::systemd::notify_watchdog();
      loop->add_timer(loop->now() + interval, ping);
    };
    ping();
  }
  server.set_on_census_changed(report_status);

  spdlog::info(
      "event=start version={} event_loop={} listen={} control={} max_clients={} nofile={} "
      "fd_setsize={} hello_timeout_ms={} sendq_limit={} history={} history_bytes={} "
      "max_per_address={} memory_budget={} stall_timeout_s={} accounts={} account_file={} "
      "require_accounts={} allow_plaintext_passwords={} engine={} node={}",
      chat::kVersion, loop->name(), log_value(fmt::format("{}", fmt::join(listen_names, ","))),
      log_value(control_path), server.effective_max_clients(), nofile, FD_SETSIZE,
      limits_from(opts).hello_timeout.count(), opts.sendq_limit, opts.history, opts.history_bytes,
      opts.max_per_address, opts.memory_budget, opts.stall_timeout, server.accounts().size(),
      log_value(server.accounts().path()), opts.require_accounts, opts.allow_plaintext_passwords,
      opts.engine, log_value(redis_engine ? redis_engine->node() : std::string("-")));
  chat::daemon::systemd::notify_ready(status_line(server));
  server.run();
  if (redis_engine) {
    redis_engine->leave_cluster(std::chrono::seconds(1));
  }
  spdlog::info("event=stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    return run(args);
  } catch (const std::exception& e) {
    std::cerr << "chatd: " << e.what() << "\n";
    return kExitOsErr;
  }
}
