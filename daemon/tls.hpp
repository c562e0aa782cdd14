// TLS for chatd's listeners: one SSL_CTX per certificate load (OpenSSL 3).
#pragma once

#include <openssl/ssl.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace chat::daemon {

struct SslCtxFree {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
struct SslFree {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;
using SslPtr = std::unique_ptr<SSL, SslFree>;

// A server context with the certificate chain and key loaded: TLS 1.2 minimum,
// OpenSSL's default security level, no renegotiation, no compression, buffers
// released while idle. Sessions made from it keep it alive (SSL_new takes a
// reference), so a reload can replace it without touching them.
struct TlsContext {
  SslCtxPtr ctx;
  std::string cert_file;
  std::string key_file;
  // The leaf certificate's notAfter, seconds since the epoch.
  std::chrono::system_clock::time_point not_after{};
  std::string not_after_text;  // ISO 8601 UTC, e.g. 2026-12-07T08:51:00Z
};

// Loads `cert_file` (PEM, leaf first, then the chain) and `key_file` (PEM).
// nullopt with `error` naming the file that failed and why.
std::optional<TlsContext> load_tls_context(const std::string& cert_file,
                                           const std::string& key_file, std::string& error);

// The certificate and key chatd uses when --tls-cert/--tls-key are not given:
// systemd's credentials "tls-cert" and "tls-key" ($CREDENTIALS_DIRECTORY, from
// LoadCredential=), if they exist. Empty strings otherwise.
std::string credential_path(const char* name);

// OpenSSL's error queue as one line (and cleared).
std::string tls_error_text();

}  // namespace chat::daemon
