// Plain and TLS connections (OpenSSL 3), certificate checks and trust on first use.
#include "client/connection.hpp"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "client/app.hpp"
#include "client/trust_files.hpp"
#include "common/net.hpp"

namespace chat::client {
namespace {

class PlainConnection final : public Connection {
 public:
  explicit PlainConnection(UniqueFd sock) : sock_(std::move(sock)) {}
  bool send(std::string_view bytes) override {
    std::lock_guard lock(send_mu_);  // one frame at a time, whichever thread sends
    while (!bytes.empty()) {
      const ssize_t n = ::send(sock_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) {
          continue;
        }
        return false;
      }
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  long receive(char* buf, std::size_t size, std::string& error) override {
    for (;;) {
      const ssize_t n = ::recv(sock_.get(), buf, size, 0);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n < 0) {
        error = std::strerror(errno);
      }
      return n;
    }
  }
  void finish_sending() override { ::shutdown(sock_.get(), SHUT_WR); }
  void interrupt() override { ::shutdown(sock_.get(), SHUT_RDWR); }
  bool tls() const override { return false; }

 private:
  UniqueFd sock_;
  std::mutex send_mu_;
};

struct CtxFree {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
struct SslFree {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};
using CtxPtr = std::unique_ptr<SSL_CTX, CtxFree>;
using SslPtr = std::unique_ptr<SSL, SslFree>;

// OpenSSL's queued errors of this thread as one line (and the queue emptied).
std::string ssl_errors() {
  std::string text;
  while (const unsigned long e = ERR_get_error()) {
    std::array<char, 256> buf{};
    ERR_error_string_n(e, buf.data(), buf.size());
    text += text.empty() ? "" : "; ";
    text += buf.data();
  }
  return text;
}

// Waits for `events` on fd; false when `deadline_ms` (-1: none) passed first.
bool wait_fd(int fd, short events, int deadline_ms) {
  pollfd p{fd, events, 0};
  for (;;) {
    const int r = ::poll(&p, 1, deadline_ms);
    if (r < 0 && errno == EINTR) {
      continue;
    }
    return r != 0;
  }
}

// The SSL object is used by two threads, never at once: every SSL_* call happens
// under ssl_mu_, the socket is non-blocking, and each thread waits for readiness
// in poll() *without* the lock. So the receiver blocked on an idle connection
// never holds up a line being sent, and a sender waiting for room in the socket
// never holds up reading (which could otherwise deadlock against a server that is
// itself blocked sending to us). send_mu_ keeps one frame's SSL_write retries
// together: OpenSSL wants a retried write repeated with the same bytes.
// Renegotiation is off, so SSL_write never needs to read.
class TlsConnection final : public Connection {
 public:
  TlsConnection(UniqueFd sock, CtxPtr ctx, SslPtr ssl)
      : sock_(std::move(sock)), ctx_(std::move(ctx)), ssl_(std::move(ssl)) {}
  ~TlsConnection() override = default;
  TlsConnection(const TlsConnection&) = delete;
  TlsConnection& operator=(const TlsConnection&) = delete;

  bool send(std::string_view bytes) override {
    std::lock_guard frame(send_mu_);
    while (!bytes.empty()) {
      if (interrupted_) {
        return false;
      }
      std::size_t written = 0;
      int err = SSL_ERROR_NONE;
      {
        std::lock_guard lock(ssl_mu_);
        const int rc = SSL_write_ex(ssl_.get(), bytes.data(), bytes.size(), &written);
        if (rc != 1) {
          err = SSL_get_error(ssl_.get(), rc);
          ERR_clear_error();
        }
      }
      if (err == SSL_ERROR_NONE) {
        bytes.remove_prefix(written);
      } else if (err == SSL_ERROR_WANT_WRITE) {
        wait_fd(sock_.get(), POLLOUT, -1);
      } else if (err == SSL_ERROR_WANT_READ) {
        wait_fd(sock_.get(), POLLIN, 100);  // not expected without renegotiation; no spin
      } else {
        return false;
      }
    }
    return true;
  }

  long receive(char* buf, std::size_t size, std::string& error) override {
    for (;;) {
      if (interrupted_) {
        error = "closed";
        return -1;
      }
      std::size_t n = 0;
      int err = SSL_ERROR_NONE;
      std::string why;
      {
        std::lock_guard lock(ssl_mu_);
        const int rc = SSL_read_ex(ssl_.get(), buf, size, &n);
        if (rc != 1) {
          err = SSL_get_error(ssl_.get(), rc);
          if (err == SSL_ERROR_SSL) {
            why = ssl_errors();
          }
          ERR_clear_error();
        }
      }
      switch (err) {
        case SSL_ERROR_NONE:
          return static_cast<long>(n);
        case SSL_ERROR_ZERO_RETURN:
          return 0;  // close_notify, or (SSL_OP_IGNORE_UNEXPECTED_EOF) a plain close
        case SSL_ERROR_WANT_READ:
          wait_fd(sock_.get(), POLLIN, -1);
          break;
        case SSL_ERROR_WANT_WRITE:
          wait_fd(sock_.get(), POLLOUT, -1);
          break;
        case SSL_ERROR_SYSCALL:
          error = errno != 0 ? std::strerror(errno) : "the connection broke";
          return -1;
        default:
          error = "TLS error: " + (why.empty() ? std::string("unknown") : why);
          return -1;
      }
    }
  }

  void finish_sending() override {
    std::lock_guard frame(send_mu_);
    // close_notify: one record, sent at once unless the socket is full; wait a
    // little for room rather than dropping it, never for long.
    for (int tries = 0; tries < 10; ++tries) {
      int err = SSL_ERROR_NONE;
      {
        std::lock_guard lock(ssl_mu_);
        const int rc = SSL_shutdown(ssl_.get());
        if (rc < 0) {
          err = SSL_get_error(ssl_.get(), rc);
        }
        ERR_clear_error();
      }
      if (err != SSL_ERROR_WANT_WRITE) {
        break;
      }
      wait_fd(sock_.get(), POLLOUT, 100);
    }
    ::shutdown(sock_.get(), SHUT_WR);
  }

  void interrupt() override {
    interrupted_ = true;
    ::shutdown(sock_.get(), SHUT_RDWR);  // wakes the poll() of both threads
  }
  bool tls() const override { return true; }

 private:
  UniqueFd sock_;
  CtxPtr ctx_;
  SslPtr ssl_;
  std::mutex send_mu_;
  std::mutex ssl_mu_;
  std::atomic<bool> interrupted_{false};
};

bool is_ip_literal(const std::string& host) {
  std::array<unsigned char, 16> buf{};
  return ::inet_pton(AF_INET, host.c_str(), buf.data()) == 1 ||
         ::inet_pton(AF_INET6, host.c_str(), buf.data()) == 1;
}

std::string fingerprint_of(X509* cert) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  if (X509_digest(cert, EVP_sha256(), md.data(), &len) != 1) {
    return "";
  }
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    std::array<char, 4> hex{};
    std::snprintf(hex.data(), hex.size(), "%02X", md[i]);
    out += i == 0 ? "" : ":";
    out += hex.data();
  }
  return out;
}

// Asks on the terminal (stdin is one); true for "y" or "yes".
bool ask_yes(const std::string& question) {
  (void)!::write(STDERR_FILENO, question.data(), question.size());
  std::string answer;
  char c = 0;
  for (;;) {
    const ssize_t n = ::read(STDIN_FILENO, &c, 1);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0 || c == '\n') {
      break;
    }
    if (answer.size() < 16) {
      answer += c;
    }
  }
  if (!answer.empty() && answer.back() == '\r') {
    answer.pop_back();
  }
  return answer == "y" || answer == "Y" || answer == "yes" || answer == "YES" || answer == "Yes";
}

TlsResult refuse(int code, std::string error) {
  TlsResult r;
  r.exit_code = code;
  r.error = std::move(error);
  return r;
}

}  // namespace

std::unique_ptr<Connection> plain_connection(UniqueFd sock) {
  return std::make_unique<PlainConnection>(std::move(sock));
}

TlsResult tls_connect(UniqueFd sock, const std::string& host, const std::string& port,
                      const TlsConfig& config, TrustMemo& memo, bool may_prompt) {
  const std::string server = host + " port " + port;
  CtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) {
    return refuse(exit_code::kSoftware, "cannot set up TLS: " + ssl_errors());
  }
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  // A server closing without close_notify reads as an ordinary close: the framing,
  // not TLS, tells a cut packet from a whole one.
  SSL_CTX_set_options(
      ctx.get(), SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF);
  if (config.ca_file.empty()) {
    SSL_CTX_set_default_verify_paths(ctx.get());
  } else if (SSL_CTX_load_verify_locations(ctx.get(), config.ca_file.c_str(), nullptr) != 1) {
    ERR_clear_error();
    return refuse(exit_code::kNoInput,
                  "cannot read a CA certificate (PEM) from --ca-file " + config.ca_file);
  }
  SslPtr ssl(SSL_new(ctx.get()));
  if (!ssl || SSL_set_fd(ssl.get(), sock.get()) != 1) {
    return refuse(exit_code::kSoftware, "cannot set up TLS: " + ssl_errors());
  }
  // The chain and name are checked here (SSL_VERIFY_NONE lets the handshake finish
  // so that an unverifiable certificate can be shown and, perhaps, trusted).
  SSL_set_verify(ssl.get(), SSL_VERIFY_NONE, nullptr);
  if (is_ip_literal(host)) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl.get()), host.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl.get(), host.c_str());
    SSL_set1_host(ssl.get(), host.c_str());
  }
  net::set_nonblocking(sock.get());
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(config.timeout_ms);
  for (;;) {
    const int rc = SSL_connect(ssl.get());
    if (rc == 1) {
      break;
    }
    const int err = SSL_get_error(ssl.get(), rc);
    if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
      const std::string why = err == SSL_ERROR_SSL ? ssl_errors() : std::string();
      ERR_clear_error();
      return refuse(exit_code::kUnavailable,
                    "TLS handshake with " + server + " failed" +
                        (why.empty() ? std::string(" (the server closed the connection; "
                                                   "is it a TLS port?)")
                                     : ": " + why));
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0 || !wait_fd(sock.get(), err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
                              static_cast<int>(left))) {
      return refuse(exit_code::kUnavailable, "TLS handshake with " + server + " timed out after " +
                                                 std::to_string(config.timeout_ms / 1000) + " s");
    }
  }
  X509* cert = SSL_get0_peer_certificate(ssl.get());
  if (cert == nullptr) {
    return refuse(exit_code::kUntrusted, "the server " + server + " sent no certificate");
  }
  const std::string fingerprint = fingerprint_of(cert);
  const long verify = SSL_get_verify_result(ssl.get());
  TlsResult result;
  const auto accept = [&] {
    result.conn = std::make_unique<TlsConnection>(std::move(sock), std::move(ctx), std::move(ssl));
    return std::move(result);
  };
  if (verify == X509_V_OK) {
    return accept();
  }
  const std::string reason = X509_verify_cert_error_string(verify);
  if (verify == X509_V_ERR_HOSTNAME_MISMATCH || verify == X509_V_ERR_IP_ADDRESS_MISMATCH) {
    return refuse(exit_code::kUntrusted, "the certificate of " + server + " is not for " + host +
                                             " (" + reason + "); not connecting");
  }
  if (!config.ca_file.empty()) {
    return refuse(exit_code::kUntrusted, "the certificate of " + server +
                                             " does not verify against --ca-file " +
                                             config.ca_file + " (" + reason + "); not connecting");
  }
  const std::string key = server_key(host, port);
  if (memo.fingerprint) {
    if (*memo.fingerprint == fingerprint) {
      return accept();
    }
    return refuse(exit_code::kCertChanged,
                  "WARNING: the certificate of " + server +
                      " changed since this session trusted it!\n"
                      "  trusted:   " +
                      *memo.fingerprint + "\n  presented: " + fingerprint +
                      "\nSomeone may be intercepting the connection. Not connecting.");
  }
  const KnownServers known =
      config.known_path.empty() ? KnownServers{} : load_known_servers(config.known_path);
  result.warnings = known.warnings;
  if (const KnownServer* entry = known.find(key)) {
    if (entry->fingerprint == fingerprint) {
      memo.fingerprint = fingerprint;
      return accept();
    }
    TlsResult r =
        refuse(exit_code::kCertChanged,
               "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"
               "WARNING: THE CERTIFICATE OF " +
                   server +
                   " HAS CHANGED!\n"
                   "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"
                   "Someone may be intercepting the connection (a man in the middle), or the\n"
                   "server's certificate was replaced.\n"
                   "  remembered: " +
                   entry->fingerprint +
                   "\n"
                   "  presented:  " +
                   fingerprint +
                   "\n"
                   "If you know the new certificate is right (check its fingerprint with the\n"
                   "server's operator), remove line " +
                   std::to_string(entry->line) + " of " + config.known_path +
                   " and connect again.\nNot connecting.");
    r.warnings = known.warnings;
    return r;
  }
  const std::string what = "the certificate of " + server + " cannot be verified (" + reason + ")";
  if (!may_prompt) {
    TlsResult r =
        refuse(exit_code::kUntrusted,
               what + ", and it is not in " +
                   (config.known_path.empty() ? std::string("known_servers") : config.known_path) +
                   ".\nIts SHA-256 fingerprint is " + fingerprint +
                   "\nStdin is not a terminal, so chat_client cannot ask: not "
                   "connecting. Run it once in a terminal to review the certificate, "
                   "or pass --ca-file.");
    r.warnings = known.warnings;
    return r;
  }
  for (const auto& w : known.warnings) {
    std::fprintf(stderr, "chat_client: %s\n", w.c_str());
  }
  result.warnings.clear();
  std::fflush(stderr);
  if (!ask_yes("chat_client: " + what + ".\nIts SHA-256 fingerprint is\n  " + fingerprint +
               "\nCompare it with the one the server's operator gives you.\n"
               "Trust it and remember it" +
               (config.known_path.empty() ? std::string() : " in " + config.known_path) +
               "? (y/N) ")) {
    return refuse(exit_code::kUntrusted, "certificate not trusted; not connecting");
  }
  std::string error;
  if (config.known_path.empty() || !remember_server(config.known_path, key, fingerprint, error)) {
    std::fprintf(
        stderr, "chat_client: trusted for this session only: %s\n",
        config.known_path.empty() ? "no place to remember it (HOME is not set)" : error.c_str());
  }
  memo.fingerprint = fingerprint;
  result.asked = true;
  return accept();
}

}  // namespace chat::client
