// Loading the TLS server context: certificate chain, key, and the settings chatd insists on.
#include "daemon/tls.hpp"

#include <openssl/err.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>

#include <fmt/format.h>

namespace chat::daemon {

std::string tls_error_text() {
  std::string out;
  char buf[256];
  while (const unsigned long e = ERR_get_error()) {
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) {
      out += "; ";
    }
    out += buf;
  }
  return out.empty() ? "unknown TLS error" : out;
}

std::string credential_path(const char* name) {
  const char* dir = std::getenv("CREDENTIALS_DIRECTORY");  // NOLINT(concurrency-mt-unsafe)
  if (dir == nullptr || *dir == '\0') {
    return {};
  }
  std::string path = std::string(dir) + "/" + name;
  return ::access(path.c_str(), F_OK) == 0 ? path : std::string();
}

namespace {

// A key file with a passphrase must fail, not prompt on chatd's terminal.
int no_passphrase(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*userdata*/) {
  return 0;
}

// The file as the error names it, with what OpenSSL said (errno when it is a
// plain read error, e.g. a missing file).
std::string file_error(const std::string& what, const std::string& file) {
  return what + " " + file + ": " + tls_error_text();
}

}  // namespace

std::optional<TlsContext> load_tls_context(const std::string& cert_file,
                                           const std::string& key_file, std::string& error) {
  ERR_clear_error();
  TlsContext out;
  out.cert_file = cert_file;
  out.key_file = key_file;
  out.ctx.reset(SSL_CTX_new(TLS_server_method()));
  if (!out.ctx) {
    error = "cannot create a TLS context: " + tls_error_text();
    return std::nullopt;
  }
  SSL_CTX* ctx = out.ctx.get();
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  // No renegotiation (a client-triggered CPU drain and a TLS 1.2 design flaw),
  // no compression (CRIME); the server's cipher order.
  // A peer that closes without close_notify ends like a plain EOF: frames are
  // self-delimiting, so a cut-off frame is seen (and dropped) by the decoder.
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                               SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_IGNORE_UNEXPECTED_EOF);
  // Idle sessions give their 16-34 KiB read/write buffers back; a write may go
  // out record by record, and its retry may come from a buffer refilled since.
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                            SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // No server-side session cache: thousands of clients would each leave an
  // entry; TLS 1.3 resumption uses stateless tickets anyway.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1) {
    error = file_error("cannot load the TLS certificate", cert_file);
    return std::nullopt;
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    error = file_error("cannot load the TLS key", key_file);
    return std::nullopt;
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    error = "the TLS key " + key_file + " does not match the certificate " + cert_file + ": " +
            tls_error_text();
    return std::nullopt;
  }
  if (const X509* leaf = SSL_CTX_get0_certificate(ctx)) {
    std::tm tm{};
    if (ASN1_TIME_to_tm(X509_get0_notAfter(leaf), &tm) == 1) {
      out.not_after = std::chrono::system_clock::from_time_t(::timegm(&tm));
      out.not_after_text = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900,
                                       tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    }
  }
  return out;
}

}  // namespace chat::daemon
