// chat-bench: a single-threaded epoll load generator for chatd (flood, steady latency, hold).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/core.h>
#include <CLI/CLI.hpp>

#include "common/unique_fd.hpp"
#include "protocol/frame.hpp"
#include "tests/support/wire.hpp"

namespace chat::bench {
namespace {

// Exit codes, so run_bench.sh can tell a slow server from a broken one.
constexpr int kExitOk = 0;
constexpr int kExitSetup = 1;
constexpr int kExitIncomplete = 2;   // steady: not every delivery arrived in the drain time
constexpr int kExitDeadline = 3;     // the global --timeout was hit
constexpr int kExitServerFault = 4;  // dropped a client, broke order, sent garbage

constexpr std::size_t kMessageSize = 48;  // the issue's message size
constexpr std::size_t kReadBuffer = std::size_t{256} * 1024;
constexpr int kMaxEvents = 1024;

std::int64_t now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

double seconds(std::int64_t ns) {
  return static_cast<double>(ns) / 1e9;
}

struct Options {
  std::string mode = "flood";
  std::uint16_t port = 0;
  // A second chat port (another chatd node of one cluster): every other client
  // connects there. 0: all on --port.
  std::uint16_t port2 = 0;
  std::size_t clients = 10;
  std::size_t senders = 0;  // flood; 0 = min(clients, 100)
  std::size_t messages = 100;
  std::size_t window = 0;         // flood; 0 = from the in-flight delivery budget
  double rate = 1.0;              // steady: messages per second per client
  double duration = 10.0;         // steady: seconds of sending
  double drain = 10.0;            // steady: seconds allowed after the last send
  double timeout = 300.0;         // global deadline for the whole run
  std::size_t connect_batch = 0;  // 0: from the client count
  int server_pid = 0;
  std::string server_label = "chatd";
  std::string backend_label = "-";
  std::string nick_prefix = "b";
  bool tls = false;  // connect with TLS (OpenSSL, no certificate check) to --port
};

struct SslFree {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};

// ---- the server's process figures, from /proc ----

// utime and stime of a process (all its threads), in seconds.
struct CpuTimes {
  double user = 0.0;
  double sys = 0.0;
};

std::optional<CpuTimes> server_cpu_seconds(int pid) {
  if (pid <= 0) {
    return std::nullopt;
  }
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) {
    return std::nullopt;
  }
  // The command name may hold spaces: fields are counted after its closing ')'.
  const auto paren = line.rfind(')');
  if (paren == std::string::npos) {
    return std::nullopt;
  }
  std::istringstream fields(line.substr(paren + 2));
  std::string f;
  unsigned long long utime = 0;
  unsigned long long stime = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i) {  // field 3 is the state
    if (i == 14) {
      utime = std::stoull(f);
    } else if (i == 15) {
      stime = std::stoull(f);
    }
  }
  const auto hz = static_cast<double>(::sysconf(_SC_CLK_TCK));
  return CpuTimes{static_cast<double>(utime) / hz, static_cast<double>(stime) / hz};
}

std::optional<long> server_status_kb(int pid, std::string_view key) {
  if (pid <= 0) {
    return std::nullopt;
  }
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, key.size(), key) == 0 && line.size() > key.size() &&
        line[key.size()] == ':') {
      return std::stol(line.substr(key.size() + 1));
    }
  }
  return std::nullopt;
}

double own_cpu_seconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// ---- minimal JSON reading: the bench parses ~10^7 packets a second, so it only
// looks up the few string members it needs instead of building a document. The
// values it reads (types, nicks, codes, its own messages) contain no escapes. ----

std::string_view string_member(std::string_view obj, std::string_view quoted_key) {
  for (auto p = obj.find(quoted_key); p != std::string_view::npos;
       p = obj.find(quoted_key, p + 1)) {
    auto q = p + quoted_key.size();
    while (q < obj.size() && (obj[q] == ' ' || obj[q] == '\t')) {
      ++q;
    }
    if (q >= obj.size() || obj[q] != ':') {
      continue;
    }
    ++q;
    while (q < obj.size() && (obj[q] == ' ' || obj[q] == '\t')) {
      ++q;
    }
    if (q >= obj.size() || obj[q] != '"') {
      continue;
    }
    ++q;
    const auto end = obj.find('"', q);
    if (end == std::string_view::npos) {
      return {};
    }
    return obj.substr(q, end - q);
  }
  return {};
}

// Fixed-width decimal field; false on a non-digit.
bool parse_digits(const char* p, std::size_t n, std::uint64_t& out) {
  std::uint64_t v = 0;
  bool ok = true;
  for (std::size_t k = 0; k < n; ++k) {
    const auto d = static_cast<unsigned>(static_cast<unsigned char>(p[k]) - '0');
    ok &= d <= 9;  // no branch per digit
    v = v * 10 + d;
  }
  out = v;
  return ok;
}

// A bench message: "s<sender:6> q<seq:9> t<send time ns:19> " (40 bytes) padded with
// dots to 48.
struct Stamp {
  std::uint64_t sender = 0;
  std::uint64_t seq = 0;
  std::uint64_t sent_ns = 0;
};

void format_message(char (&out)[kMessageSize + 1], std::uint64_t sender, std::uint64_t seq,
                    std::uint64_t sent_ns) {
  std::snprintf(out, sizeof out, "s%06llu q%09llu t%019llu ",
                static_cast<unsigned long long>(sender), static_cast<unsigned long long>(seq),
                static_cast<unsigned long long>(sent_ns));
  std::fill(out + 40, out + kMessageSize, '.');
  out[kMessageSize] = '\0';
}

// Parses what the mode needs: sender and sequence (flood), or the send time (steady).
bool parse_message(std::string_view m, Stamp& st, bool want_seq, bool want_time) {
  if (m.size() != kMessageSize || m[0] != 's' || m[8] != 'q' || m[19] != 't') {
    return false;
  }
  if (want_seq &&
      !(parse_digits(m.data() + 1, 6, st.sender) && parse_digits(m.data() + 9, 9, st.seq))) {
    return false;
  }
  return !want_time || parse_digits(m.data() + 20, 19, st.sent_ns);
}

// The compact form chatd and floor-server write, {"type":"chat",...,"message":"<48>"},
// recognised in constant time: generic member search cost the bench ~700 instructions
// per packet, as much as the server's whole work per delivery.
bool compact_chat_message(std::string_view p, std::string_view& message) {
  constexpr std::string_view kHead = R"({"type":"chat",)";
  constexpr std::string_view kKey = R"("message":")";
  if (p.size() < kHead.size() + kKey.size() + kMessageSize + 2 ||
      p.compare(0, kHead.size(), kHead) != 0 || p[p.size() - 2] != '"' || p.back() != '}') {
    return false;
  }
  const std::size_t start = p.size() - 2 - kMessageSize;
  if (p.compare(start - kKey.size(), kKey.size(), kKey) != 0) {
    return false;
  }
  message = p.substr(start, kMessageSize);
  return true;
}

// Latency histogram: 1 µs buckets below 100 ms, 1 ms buckets up to 10 minutes.
class Histogram {
 public:
  void add(std::int64_t ns) {
    const auto us = static_cast<std::uint64_t>(std::max<std::int64_t>(ns, 0) / 1000);
    if (us < kFine) {
      ++fine_[us];
    } else {
      ++coarse_[std::min<std::uint64_t>(us / 1000, kCoarse - 1)];
    }
    max_us_ = std::max(max_us_, us);
    ++count_;
  }
  std::uint64_t count() const { return count_; }
  double max_ms() const { return static_cast<double>(max_us_) / 1000.0; }
  // Upper edge of the bucket holding the p-th fraction, in ms.
  double percentile_ms(double p) const {
    if (count_ == 0) {
      return 0.0;
    }
    const auto rank = static_cast<std::uint64_t>(std::ceil(p * static_cast<double>(count_)));
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < kFine; ++i) {
      seen += fine_[i];
      if (seen >= rank) {
        return static_cast<double>(i + 1) / 1000.0;
      }
    }
    for (std::size_t i = 0; i < kCoarse; ++i) {
      seen += coarse_[i];
      if (seen >= rank) {
        return static_cast<double>(i + 1);
      }
    }
    return max_ms();
  }

 private:
  static constexpr std::size_t kFine = 100'000;
  static constexpr std::size_t kCoarse = 600'000;
  std::vector<std::uint64_t> fine_ = std::vector<std::uint64_t>(kFine);
  std::vector<std::uint64_t> coarse_ = std::vector<std::uint64_t>(kCoarse);
  std::uint64_t max_us_ = 0;
  std::uint64_t count_ = 0;
};

enum class State : std::uint8_t { kIdle, kConnecting, kHello, kJoined, kRefused, kClosed };

struct Client {
  std::unique_ptr<SSL, SslFree> ssl;  // --tls; freed before fd closes (declared first)
  UniqueFd fd;
  State state = State::kIdle;
  bool want_out = false;  // EPOLLOUT registered
  bool dirty = false;     // on the flush list
  bool saw_barrier = false;
  std::string nick;
  std::string out;  // bytes not yet taken by the kernel
  std::size_t out_off = 0;
  std::string carry;  // a partial frame left from the last read
  std::uint64_t chats = 0;
  std::uint64_t joins = 0;
  std::uint32_t sent = 0;   // flood: own messages sent
  std::uint32_t acked = 0;  // flood: own messages seen back
};

class Bench {
 public:
  explicit Bench(Options o) : o_(std::move(o)) {}
  int run();

 private:
  enum class Phase { kJoin, kBarrier, kMeasure, kDone };

  // Setup and the event loop.
  bool raise_nofile();
  bool start_connect(std::size_t i);
  void poll(int timeout_ms);
  void on_event(std::size_t i, std::uint32_t events);
  void on_connected(std::size_t i);
  void read_client(std::size_t i);
  bool handle_payload(std::size_t i, std::string_view payload);
  void queue(std::size_t i, std::string_view frame);
  void flush_dirty();
  bool flush_client(std::size_t i);
  void set_out_interest(std::size_t i, bool want);
  void lose_client(std::size_t i, const std::string& why);
  void fault(const std::string& why);
  bool past_deadline() const { return now_ns() >= deadline_ns_; }

  // Phases.
  bool join_all();
  bool run_barrier();
  int run_flood();
  int run_steady();
  int run_hold();
  void top_up(std::size_t sender);
  void send_chat(std::size_t i, std::uint64_t sender, std::uint64_t seq);
  int timed_out(std::string_view phase);
  std::string common_fields() const;
  std::string join_fields() const;
  void reset_measure();

  Options o_;
  std::vector<std::string> modes_;  // --mode, split at commas
  std::string mode_;                // the one running
  bool flood_ = false;              // mode_ == "flood", tested per packet
  std::vector<Client> clients_;
  SSL_CTX* tls_ctx_ = nullptr;  // --tls; lives as long as the process
  UniqueFd epoll_;
  std::vector<char> rbuf_;
  std::vector<std::size_t> dirty_;
  sockaddr_in addr_{};
  sockaddr_in addr2_{};
  std::int64_t deadline_ns_ = 0;
  Phase phase_ = Phase::kJoin;
  std::string barrier_text_;

  // Join phase.
  std::size_t next_connect_ = 0;
  std::size_t in_flight_ = 0;
  std::size_t joined_ = 0;
  std::size_t refused_ = 0;
  std::size_t closed_without_error_ = 0;
  std::size_t barrier_seen_ = 0;
  std::uint64_t join_deliveries_ = 0;
  double join_s_ = 0.0;
  double join_cpu_s_ = -1.0;
  std::optional<long> rss_start_;  // server VmRSS before the first connect  // server CPU for
                                   // connecting and joining; < 0 if unknown

  // Measurement.
  std::uint64_t deliveries_ = 0;
  std::uint64_t bad_packets_ = 0;
  std::uint64_t order_errors_ = 0;
  std::uint64_t leaves_ = 0;
  std::vector<std::uint32_t> next_seq_;  // flood: [receiver * senders + sender]
  std::size_t senders_ = 0;
  std::size_t window_ = 0;
  Histogram latency_;
  std::int64_t read_ns_ = 0;
  std::uint64_t recvs_ = 0;  // recv calls with data while measuring: batching seen by clients  //
                             // when the packets being handled were read
  bool faulted_ = false;
  bool connect_failed_ = false;  // no server there: a setup error, not a server fault
  std::string fault_;
};

bool Bench::raise_nofile() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) {
    return false;
  }
  const rlim_t need = o_.clients + 64;
  if (rl.rlim_cur < need) {
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
      fmt::print(stderr,
                 "chat-bench: {} clients need {} descriptors but the hard limit is {} "
                 "(raise it with ulimit -Hn or run as root)\n",
                 o_.clients, need, rl.rlim_max);
      return false;
    }
    rl.rlim_cur = need;
    if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) {
      fmt::print(stderr, "chat-bench: setrlimit(RLIMIT_NOFILE, {}): {}\n", need,
                 std::strerror(errno));
      return false;
    }
  }
  return true;
}

void Bench::fault(const std::string& why) {
  if (!faulted_) {
    faulted_ = true;
    fault_ = why;
  }
}

void Bench::lose_client(std::size_t i, const std::string& why) {
  Client& c = clients_[i];
  if (c.state == State::kClosed || c.state == State::kRefused) {
    return;
  }
  const bool handshaking = c.state == State::kConnecting || c.state == State::kHello;
  if (handshaking) {
    --in_flight_;
  }
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, c.fd.get(), nullptr);
  c.ssl.reset();
  c.fd.reset();
  c.state = State::kClosed;
  if (handshaking && phase_ == Phase::kJoin) {
    // Closed or reset before its join: refused without the server-full error (a
    // server over its limit that cannot even queue the error). Counted, not fatal.
    ++closed_without_error_;
    return;
  }
  fault(fmt::format("client {} lost: {}", c.nick, why));
}

bool Bench::start_connect(std::size_t i) {
  Client& c = clients_[i];
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) {
    fmt::print(stderr, "chat-bench: socket: {}\n", std::strerror(errno));
    return false;
  }
  const int one = 1;
  ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  const sockaddr_in& to = o_.port2 != 0 && i % 2 == 1 ? addr2_ : addr_;
  const int rc = ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&to), sizeof to);
  if (rc != 0 && errno != EINPROGRESS) {
    fmt::print(stderr, "chat-bench: connect to 127.0.0.1:{} (client {}): {}\n", o_.port, i,
               std::strerror(errno));
    return false;
  }
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT;
  ev.data.u64 = i;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd.get(), &ev) != 0) {
    fmt::print(stderr, "chat-bench: epoll_ctl: {}\n", std::strerror(errno));
    return false;
  }
  c.fd = std::move(fd);
  c.want_out = true;
  c.state = State::kConnecting;
  ++in_flight_;
  return true;
}

void Bench::set_out_interest(std::size_t i, bool want) {
  Client& c = clients_[i];
  if (c.want_out == want || !c.fd) {
    return;
  }
  epoll_event ev{};
  ev.events = EPOLLIN | (want ? EPOLLOUT : 0U);
  ev.data.u64 = i;
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, c.fd.get(), &ev);
  c.want_out = want;
}

void Bench::queue(std::size_t i, std::string_view frame) {
  Client& c = clients_[i];
  c.out.append(frame);
  if (!c.dirty) {
    c.dirty = true;
    dirty_.push_back(i);
  }
}

bool Bench::flush_client(std::size_t i) {
  Client& c = clients_[i];
  while (c.ssl && c.out_off < c.out.size()) {
    // At most one record per call; a retry passes at least as many bytes.
    const auto n = static_cast<int>(std::min<std::size_t>(c.out.size() - c.out_off, 16384));
    ERR_clear_error();
    const int w = SSL_write(c.ssl.get(), c.out.data() + c.out_off, n);
    if (w <= 0) {
      const int err = SSL_get_error(c.ssl.get(), w);
      if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) {
        set_out_interest(i, err == SSL_ERROR_WANT_WRITE);  // WANT_READ: EPOLLIN retries it
        return true;
      }
      lose_client(i, fmt::format("SSL_write: error {}", err));
      return false;
    }
    c.out_off += static_cast<std::size_t>(w);
  }
  while (c.out_off < c.out.size()) {
    const ssize_t w = ::send(c.fd.get(), c.out.data() + c.out_off, c.out.size() - c.out_off,
                             MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0) {
      if (errno == EINTR) {
        continue;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        set_out_interest(i, true);
        return true;
      }
      lose_client(i, fmt::format("send: {}", std::strerror(errno)));
      return false;
    }
    c.out_off += static_cast<std::size_t>(w);
  }
  c.out.clear();
  c.out_off = 0;
  set_out_interest(i, false);
  return true;
}

void Bench::flush_dirty() {
  for (const std::size_t i : dirty_) {
    clients_[i].dirty = false;
    if (clients_[i].fd && clients_[i].state != State::kConnecting) {
      flush_client(i);
    }
  }
  dirty_.clear();
}

void Bench::on_connected(std::size_t i) {
  Client& c = clients_[i];
  int err = 0;
  socklen_t len = sizeof err;
  ::getsockopt(c.fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) {
    fault(fmt::format("connect to 127.0.0.1:{} failed: {}", o_.port, std::strerror(err)));
    connect_failed_ = true;
    lose_client(i, "connect failed");
    return;
  }
  c.state = State::kHello;
  if (tls_ctx_ != nullptr) {
    c.ssl.reset(SSL_new(tls_ctx_));
    SSL_set_fd(c.ssl.get(), c.fd.get());
    SSL_set_connect_state(c.ssl.get());  // the hello's SSL_write drives the handshake
  }
  const std::string hello =
      chat::test::frame_of(fmt::format(R"({{"type":"hello","nick":"{}"}})", c.nick));
  queue(i, hello);
  flush_client(i);
}

void Bench::on_event(std::size_t i, std::uint32_t events) {
  Client& c = clients_[i];
  if (!c.fd) {
    return;
  }
  if ((events & EPOLLOUT) != 0) {
    if (c.state == State::kConnecting) {
      on_connected(i);
    } else {
      flush_client(i);
    }
  }
  if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0 && c.fd && c.state != State::kConnecting) {
    read_client(i);
  }
}

void Bench::read_client(std::size_t i) {
  Client& c = clients_[i];
  const std::size_t carried = c.carry.size();
  std::memcpy(rbuf_.data(), c.carry.data(), carried);
  ssize_t r = 0;
  if (c.ssl) {
    ERR_clear_error();
    const int want = static_cast<int>(std::min<std::size_t>(rbuf_.size() - carried, 1 << 30));
    r = SSL_read(c.ssl.get(), rbuf_.data() + carried, want);
    if (r <= 0) {
      const int err = SSL_get_error(c.ssl.get(), static_cast<int>(r));
      if (err == SSL_ERROR_WANT_READ) {
        if (c.out_off < c.out.size()) {
          flush_client(i);  // a write that waited for the peer's records
        }
        return;
      }
      if (err == SSL_ERROR_WANT_WRITE) {
        set_out_interest(i, true);
        return;
      }
      lose_client(i, err == SSL_ERROR_ZERO_RETURN ? std::string("eof")
                                                  : fmt::format("SSL_read: error {}", err));
      return;
    }
  } else {
    r = ::recv(c.fd.get(), rbuf_.data() + carried, rbuf_.size() - carried, MSG_DONTWAIT);
  }
  if (r < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
      return;
    }
    lose_client(i, fmt::format("recv: {}", std::strerror(errno)));
    return;
  }
  if (r == 0) {
    lose_client(i, "eof");
    return;
  }
  read_ns_ = now_ns();  // one clock read per recv, not per packet
  if (phase_ == Phase::kMeasure) {
    ++recvs_;
  }
  const std::size_t len = carried + static_cast<std::size_t>(r);
  const char* p = rbuf_.data();
  std::size_t pos = 0;
  while (len - pos >= proto::kHeaderSize) {
    const std::size_t n = (static_cast<std::size_t>(static_cast<unsigned char>(p[pos])) << 8) |
                          static_cast<unsigned char>(p[pos + 1]);
    if (n == 0) {
      fault(fmt::format("client {} received a zero-length frame", c.nick));
      lose_client(i, "zero-length frame");
      return;
    }
    if (len - pos - proto::kHeaderSize < n) {
      break;
    }
    if (!handle_payload(i, std::string_view(p + pos + proto::kHeaderSize, n))) {
      return;  // the client was closed
    }
    pos += proto::kHeaderSize + n;
  }
  c.carry.assign(p + pos, len - pos);
  if (c.ssl && c.fd && (SSL_pending(c.ssl.get()) > 0 || c.out_off < c.out.size())) {
    // Bytes already decrypted are invisible to epoll; a pending write may now go.
    if (c.out_off < c.out.size()) {
      flush_client(i);
    }
    if (c.fd && c.ssl && SSL_pending(c.ssl.get()) > 0) {
      read_client(i);
    }
  }
}

bool Bench::handle_payload(std::size_t i, std::string_view payload) {
  Client& c = clients_[i];
  std::string_view message;
  const bool compact = compact_chat_message(payload, message);
  const std::string_view type = compact ? "chat" : string_member(payload, "\"type\"");
  if (type == "chat") {
    if (!compact) {
      message = string_member(payload, "\"message\"");
    }
    if (phase_ == Phase::kMeasure) {
      Stamp st;
      if (!parse_message(message, st, flood_, !flood_)) {
        ++bad_packets_;
        return true;
      }
      ++c.chats;
      ++deliveries_;
      if (flood_) {
        if (!next_seq_.empty() && st.sender < senders_) {
          auto& expect = next_seq_[i * senders_ + st.sender];
          if (st.seq != expect) {
            ++order_errors_;
          }
          expect = static_cast<std::uint32_t>(st.seq + 1);
        }
        if (st.sender == i) {
          ++c.acked;
          top_up(i);
        }
      } else {
        latency_.add(read_ns_ - static_cast<std::int64_t>(st.sent_ns));
      }
    } else if (message == barrier_text_) {
      if (!c.saw_barrier) {
        c.saw_barrier = true;
        ++barrier_seen_;
      }
    } else {
      ++bad_packets_;  // a chat nobody in this run sent
    }
    return true;
  }
  if (type == "join") {
    ++c.joins;
    ++join_deliveries_;
    if (c.state == State::kHello && string_member(payload, "\"nick\"") == c.nick) {
      c.state = State::kJoined;
      --in_flight_;
      ++joined_;
    }
    return true;
  }
  if (type == "leave") {
    ++leaves_;
    return true;
  }
  if (type == "error") {
    const std::string_view code = string_member(payload, "\"code\"");
    if (code == "server-full" && c.state == State::kHello) {
      --in_flight_;
      ++refused_;
      ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, c.fd.get(), nullptr);
      c.fd.reset();
      c.state = State::kRefused;
      return false;
    }
    fault(fmt::format("client {} got error {}", c.nick, code));
    lose_client(i, fmt::format("error {}", code));
    return false;
  }
  ++bad_packets_;
  return true;
}

void Bench::poll(int timeout_ms) {
  std::array<epoll_event, kMaxEvents> events{};
  const int n = ::epoll_wait(epoll_.get(), events.data(), kMaxEvents, timeout_ms);
  if (n < 0) {
    if (errno != EINTR) {
      fault(fmt::format("epoll_wait: {}", std::strerror(errno)));
    }
    return;
  }
  for (int k = 0; k < n; ++k) {
    on_event(static_cast<std::size_t>(events[k].data.u64), events[k].events);
  }
  flush_dirty();
}

int Bench::timed_out(std::string_view phase) {
  fmt::print(stderr,
             "chat-bench: global deadline of {} s hit during {} (joined {}/{}, deliveries {}); "
             "the server is too slow for this size or stopped answering\n",
             o_.timeout, phase, joined_, o_.clients, deliveries_);
  fmt::print("{} status=timeout phase={}\n", common_fields(), phase);
  std::fflush(stdout);
  return kExitDeadline;
}

std::string Bench::common_fields() const {
  return fmt::format("mode={} server={} backend={} clients={} joined={} refused={}", mode_,
                     o_.server_label, o_.backend_label, o_.clients, joined_, refused_);
}

std::string Bench::join_fields() const {
  return join_cpu_s_ < 0
             ? fmt::format("join_s={:.2f} join_server_cpu_s=na", join_s_)
             : fmt::format("join_s={:.2f} join_server_cpu_s={:.2f}", join_s_, join_cpu_s_);
}

// Clears what one mode counted, so several modes can run on one set of clients.
void Bench::reset_measure() {
  deliveries_ = 0;
  bad_packets_ = 0;
  order_errors_ = 0;
  recvs_ = 0;
  next_seq_.clear();
  latency_ = Histogram();
  for (auto& c : clients_) {
    c.chats = 0;
    c.sent = 0;
    c.acked = 0;
  }
}

// Connects every client with at most connect_batch handshakes in flight, each
// done when the client sees its own join (or is refused with server-full).
bool Bench::join_all() {
  const auto t0 = now_ns();
  while (joined_ + refused_ + closed_without_error_ < o_.clients) {
    while (in_flight_ < o_.connect_batch && next_connect_ < o_.clients) {
      if (!start_connect(next_connect_++)) {
        return false;
      }
    }
    poll(100);
    if (faulted_ || past_deadline()) {
      return false;
    }
  }
  join_s_ = seconds(now_ns() - t0);
  return true;
}

// The joins are N(N+1)/2 deliveries. Rather than count them, one chat from the
// first client marks their end: a server delivers in order per connection, and
// every join was queued before it, so a client that has the barrier has all joins.
bool Bench::run_barrier() {
  phase_ = Phase::kBarrier;
  std::size_t first = 0;
  while (first < clients_.size() && clients_[first].state != State::kJoined) {
    ++first;
  }
  if (first == clients_.size()) {
    return true;
  }
  barrier_text_ = fmt::format("barrier {}", ::getpid());
  queue(first,
        chat::test::frame_of(fmt::format(R"({{"type":"chat","message":"{}"}})", barrier_text_)));
  flush_dirty();
  const auto t0 = now_ns();
  while (barrier_seen_ < joined_) {
    poll(100);
    if (faulted_ || past_deadline()) {
      return false;
    }
  }
  join_s_ += seconds(now_ns() - t0);
  return true;
}

void Bench::send_chat(std::size_t i, std::uint64_t sender, std::uint64_t seq) {
  char msg[kMessageSize + 1];
  format_message(msg, sender, seq, static_cast<std::uint64_t>(now_ns()));
  char frame[128];
  const int n =
      std::snprintf(frame + 2, sizeof frame - 2, R"({"type":"chat","message":"%s"})", msg);
  frame[0] = static_cast<char>((n >> 8) & 0xff);
  frame[1] = static_cast<char>(n & 0xff);
  queue(i, std::string_view(frame, static_cast<std::size_t>(n) + 2));
  ++clients_[i].sent;
}

void Bench::top_up(std::size_t sender) {
  Client& c = clients_[sender];
  while (c.sent < o_.messages && c.sent - c.acked < window_) {
    send_chat(sender, sender, c.sent);
  }
}

int Bench::run_flood() {
  senders_ = o_.senders == 0 ? std::min<std::size_t>(o_.clients, 100) : o_.senders;
  if (senders_ > o_.clients) {
    fmt::print(stderr, "chat-bench: --senders {} is more than --clients {}\n", senders_,
               o_.clients);
    return kExitSetup;
  }
  // Bound the deliveries in flight (server queues + socket buffers) to about a
  // million, so no client's send queue nears the server's limit.
  window_ = o_.window != 0 ? o_.window
                           : std::clamp<std::size_t>(1'000'000 / (senders_ * o_.clients), 1, 64);
  if (senders_ * o_.clients <= 16'000'000) {
    next_seq_.assign(senders_ * o_.clients, 0);
  }
  const std::uint64_t expected =
      static_cast<std::uint64_t>(senders_) * o_.messages * static_cast<std::uint64_t>(o_.clients);
  phase_ = Phase::kMeasure;
  const auto cpu0 = server_cpu_seconds(o_.server_pid);
  const double own0 = own_cpu_seconds();
  const auto t0 = now_ns();
  for (std::size_t s = 0; s < senders_; ++s) {
    top_up(s);
  }
  flush_dirty();
  while (deliveries_ < expected && !faulted_) {
    poll(100);
    if (past_deadline()) {
      return timed_out("flood");
    }
  }
  const auto t1 = now_ns();
  const auto cpu1 = server_cpu_seconds(o_.server_pid);
  const double own1 = own_cpu_seconds();
  if (faulted_) {
    fmt::print(stderr, "chat-bench: {}\n", fault_);
    fmt::print("{} status=fault\n", common_fields());
    return kExitServerFault;
  }
  std::size_t short_clients = 0;
  for (const auto& c : clients_) {
    if (c.chats != senders_ * o_.messages) {
      ++short_clients;
    }
  }
  const double elapsed = seconds(t1 - t0);
  const auto d = static_cast<double>(deliveries_);
  std::string cpu = "server_cpu_s=na cpu_us_per_delivery=na";
  if (cpu0 && cpu1) {
    const double user = cpu1->user - cpu0->user;
    const double sys = cpu1->sys - cpu0->sys;
    cpu = fmt::format(
        "server_cpu_s={:.2f} server_user_s={:.2f} server_sys_s={:.2f} cpu_us_per_delivery={:.4f}",
        user + sys, user, sys, (user + sys) * 1e6 / d);
  }
  const bool ok = short_clients == 0 && order_errors_ == 0 && bad_packets_ == 0;
  fmt::print(
      "{} senders={} messages={} window={} deliveries={} expected={} elapsed_s={:.3f} "
      "deliveries_per_s={:.0f} {} bench_cpu_us_per_delivery={:.4f} deliveries_per_recv={:.1f} "
      "order_errors={} bad_packets={} {} status={}\n",
      common_fields(), senders_, o_.messages, window_, deliveries_, expected, elapsed, d / elapsed,
      cpu, (own1 - own0) * 1e6 / d, d / static_cast<double>(std::max<std::uint64_t>(recvs_, 1)),
      order_errors_, bad_packets_, join_fields(), ok ? "ok" : "fault");
  return ok ? kExitOk : kExitServerFault;
}

int Bench::run_steady() {
  const double total_rate = o_.rate * static_cast<double>(o_.clients);
  const auto total = static_cast<std::uint64_t>(std::llround(total_rate * o_.duration));
  if (total == 0) {
    fmt::print(stderr, "chat-bench: --rate x --clients x --duration sends no message\n");
    return kExitSetup;
  }
  // One schedule for all clients: evenly spaced sends, client j % N sends the j-th,
  // so each client sends at `rate` on average and the load has no bursts.
  const double interval_ns = o_.duration * 1e9 / static_cast<double>(total);
  const std::uint64_t expected = total * o_.clients;
  phase_ = Phase::kMeasure;
  const auto cpu0 = server_cpu_seconds(o_.server_pid);
  const double own0 = own_cpu_seconds();
  const auto t0 = now_ns();
  std::uint64_t next = 0;
  std::int64_t max_lag_ns = 0;
  std::vector<std::uint32_t> seq(o_.clients, 0);
  std::int64_t drain_deadline = deadline_ns_;
  while (deliveries_ < expected && !faulted_) {
    const auto now = now_ns();
    while (next < total) {
      const auto due = t0 + static_cast<std::int64_t>(static_cast<double>(next) * interval_ns);
      if (due > now) {
        break;
      }
      max_lag_ns = std::max(max_lag_ns, now - due);
      const std::size_t i = next % o_.clients;
      send_chat(i, i, seq[i]++);
      ++next;
      if (next == total) {
        drain_deadline = std::min(deadline_ns_, now + static_cast<std::int64_t>(o_.drain * 1e9));
      }
    }
    flush_dirty();
    int timeout_ms = 100;
    if (next < total) {
      const auto due = t0 + static_cast<std::int64_t>(static_cast<double>(next) * interval_ns);
      timeout_ms =
          static_cast<int>(std::clamp<std::int64_t>((due - now + 999'999) / 1'000'000, 0, 100));
    }
    poll(timeout_ms);
    if (now_ns() >= drain_deadline) {
      break;
    }
  }
  const auto t1 = now_ns();
  const auto cpu1 = server_cpu_seconds(o_.server_pid);
  if (faulted_) {
    fmt::print(stderr, "chat-bench: {}\n", fault_);
    fmt::print("{} status=fault\n", common_fields());
    return kExitServerFault;
  }
  const bool complete = deliveries_ == expected;
  const bool ok = complete && bad_packets_ == 0;
  std::string cpu = "server_cpu_s=na";
  if (cpu0 && cpu1) {
    cpu = fmt::format("server_cpu_s={:.2f} server_user_s={:.2f} server_sys_s={:.2f}",
                      cpu1->user + cpu1->sys - cpu0->user - cpu0->sys, cpu1->user - cpu0->user,
                      cpu1->sys - cpu0->sys);
  }
  cpu += fmt::format(" bench_cpu_s={:.2f}", own_cpu_seconds() - own0);
  fmt::print(
      "{} rate={} duration_s={} messages={} deliveries={} expected={} p50_ms={:.3f} "
      "p99_ms={:.3f} max_ms={:.3f} send_lag_max_ms={:.3f} elapsed_s={:.3f} {} bad_packets={} "
      "{} status={}\n",
      common_fields(), o_.rate, o_.duration, total, deliveries_, expected,
      latency_.percentile_ms(0.50), latency_.percentile_ms(0.99), latency_.max_ms(),
      static_cast<double>(max_lag_ns) / 1e6, seconds(t1 - t0), cpu, bad_packets_, join_fields(),
      ok ? "ok" : (complete ? "fault" : "incomplete"));
  if (!complete) {
    fmt::print(stderr,
               "chat-bench: {} of {} deliveries arrived within {} s after the last send; the "
               "server cannot keep up with this rate\n",
               deliveries_, expected, o_.drain);
    return kExitIncomplete;
  }
  return ok ? kExitOk : kExitServerFault;
}

int Bench::run_hold() {
  const auto rss = server_status_kb(o_.server_pid, "VmRSS");
  const auto hwm = server_status_kb(o_.server_pid, "VmHWM");
  auto kb = [](const std::optional<long>& v) { return v ? std::to_string(*v) : std::string("na"); };
  std::string per_client = "na";
  if (rss && rss_start_ && joined_ > 0) {
    per_client = fmt::format(
        "{:.1f}", static_cast<double>(*rss - *rss_start_) / static_cast<double>(joined_));
  }
  fmt::print(
      "{} closed_without_error={} rss_kb={} hwm_kb={} rss_start_kb={} rss_per_client_kb={} {} "
      "status=ok\n",
      common_fields(), closed_without_error_, kb(rss), kb(hwm), kb(rss_start_), per_client,
      join_fields());
  return kExitOk;
}

int Bench::run() {
  std::string rest = o_.mode;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    modes_.push_back(rest.substr(0, comma));
    rest = comma == std::string::npos ? "" : rest.substr(comma + 1);
  }
  for (const auto& m : modes_) {
    if (m != "hold" && m != "flood" && m != "steady") {
      fmt::print(stderr, "chat-bench: unknown mode '{}' (flood, steady, hold)\n", m);
      return kExitSetup;
    }
  }
  mode_ = modes_.empty() ? "flood" : modes_.front();
  if (o_.tls) {
    tls_ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(tls_ctx_, SSL_VERIFY_NONE, nullptr);  // a load generator, not a client
    SSL_CTX_set_mode(tls_ctx_, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                                   SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  }
  if (!raise_nofile()) {
    return kExitSetup;
  }
  deadline_ns_ = now_ns() + static_cast<std::int64_t>(o_.timeout * 1e9);
  epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
  rbuf_.resize(kReadBuffer + proto::kHeaderSize + proto::kMaxPayload);
  addr_.sin_family = AF_INET;
  addr_.sin_port = htons(o_.port);
  addr_.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr2_ = addr_;
  addr2_.sin_port = htons(o_.port2);
  clients_.resize(o_.clients);
  for (std::size_t i = 0; i < o_.clients; ++i) {
    clients_[i].nick = o_.nick_prefix + std::to_string(i);
  }
  if (o_.connect_batch == 0) {
    // Many hellos per server wake-up keep the N^2 join deliveries in few writes.
    o_.connect_batch = std::clamp<std::size_t>(o_.clients / 10, 32, 1000);
  }
  rss_start_ = server_status_kb(o_.server_pid, "VmRSS");
  const auto cpu_start = server_cpu_seconds(o_.server_pid);

  if (!join_all() || !run_barrier()) {
    if (past_deadline()) {
      return timed_out(phase_ == Phase::kJoin ? "join" : "barrier");
    }
    fmt::print(stderr, "chat-bench: {}\n", faulted_ ? fault_ : "cannot open the clients");
    fmt::print("{} status=fault\n", common_fields());
    return faulted_ && !connect_failed_ ? kExitServerFault : kExitSetup;
  }
  if (const auto cpu_joined = server_cpu_seconds(o_.server_pid); cpu_start && cpu_joined) {
    join_cpu_s_ = cpu_joined->user + cpu_joined->sys - cpu_start->user - cpu_start->sys;
  }
  for (const auto& m : modes_) {
    mode_ = m;
    flood_ = m == "flood";
    reset_measure();
    int rc = kExitOk;
    if (m == "hold") {
      rc = run_hold();
    } else if (joined_ != o_.clients) {
      fmt::print(stderr,
                 "chat-bench: only {} of {} clients joined ({} refused with server-full, {} "
                 "closed without a word); lower --clients to the server's limit\n",
                 joined_, o_.clients, refused_, closed_without_error_);
      fmt::print("{} status=refused\n", common_fields());
      rc = kExitSetup;
    } else {
      rc = m == "flood" ? run_flood() : run_steady();
    }
    std::fflush(stdout);
    if (rc != kExitOk) {
      return rc;
    }
  }
  return kExitOk;
}

}  // namespace
}  // namespace chat::bench

int main(int argc, char** argv) {
  chat::bench::Options o;
  CLI::App app{
      "chat-bench: opens N clients to a chat server on 127.0.0.1, completes hello, then\n"
      "runs one of: flood (S senders x M messages, every client reads everything),\n"
      "steady (every client sends R msg/s for T s; latency) or hold (N idle clients; RSS).\n"
      "Prints one key=value line. Exit: 0 ok, 1 setup, 2 incomplete, 3 deadline, 4 server "
      "fault."};
  app.add_option("--port", o.port, "Server port on 127.0.0.1")->required();
  app.add_option("--port2", o.port2,
                 "A second node's port (chatd --engine redis): every other client connects there");
  app.add_option("--mode", o.mode,
                 "flood, steady or hold; or several, comma-separated, run in turn on the same "
                 "clients (one join)");
  app.add_option("--clients,-n", o.clients, "Clients to open")->check(CLI::Range(1, 60000));
  auto* flood = app.add_option_group("flood");
  flood->add_option("--senders,-s", o.senders, "Clients that send (0 = min(clients, 100))");
  flood->add_option("--messages,-m", o.messages, "Messages per sender")
      ->check(CLI::Range(1, 100'000'000));
  flood->add_option("--window", o.window,
                    "Own messages a sender may have in flight (0 = ~1M deliveries in flight)");
  auto* steady = app.add_option_group("steady");
  steady->add_option("--rate", o.rate, "Messages per second per client")
      ->check(CLI::Range(1e-6, 1e6));
  steady->add_option("--duration", o.duration, "Seconds of sending")
      ->check(CLI::Range(0.1, 3600.0));
  steady->add_option("--drain", o.drain, "Seconds allowed for the last deliveries")
      ->check(CLI::Range(0.0, 3600.0));
  app.add_option("--timeout", o.timeout, "Global deadline in seconds for the whole run")
      ->check(CLI::Range(1.0, 86400.0));
  app.add_option("--connect-batch", o.connect_batch,
                 "Handshakes in flight while joining (0 = clients/10 within 32..1000)")
      ->check(CLI::Range(0, 4096));
  app.add_flag("--tls", o.tls, "Speak TLS to --port (chatd's --tls-port)");
  app.add_option("--server-pid", o.server_pid, "Server pid, for CPU time and RSS from /proc");
  app.add_option("--server-label", o.server_label, "Server name printed in the line");
  app.add_option("--backend", o.backend_label, "Backend name printed in the line");
  app.add_option("--nick-prefix", o.nick_prefix, "Nicks are PREFIX0, PREFIX1, ...");
  CLI11_PARSE(app, argc, argv);
  return chat::bench::Bench(std::move(o)).run();
}
