// One connection to the server, plain TCP or TLS, shared by the main and receiver threads.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/unique_fd.hpp"

namespace chat::client {

// Both threads use a connection at once: the receiver thread blocks in receive()
// while the main thread (typed lines) and the receiver itself (a rejoin) send.
// Implementations make that safe; see TlsConnection in connection.cpp.
class Connection {
 public:
  virtual ~Connection() = default;
  // Sends all of `bytes` (one frame), from any thread; false once the connection failed.
  virtual bool send(std::string_view bytes) = 0;
  // Blocks until bytes arrive: their count, 0 at the end of the stream, -1 on an
  // error (`error` says which) or after interrupt().
  virtual long receive(char* buf, std::size_t size, std::string& error) = 0;
  // We send nothing more: TCP half-close; over TLS a close_notify first. Reading goes on.
  virtual void finish_sending() = 0;
  // Wakes a blocked receive() for good (the socket is shut down both ways).
  virtual void interrupt() = 0;
  virtual bool tls() const = 0;
};

std::unique_ptr<Connection> plain_connection(UniqueFd sock);

struct TlsConfig {
  std::string ca_file;     // "": the system's CAs
  std::string known_path;  // known_servers ("": none can be read or written)
  int timeout_ms = 10000;  // the handshake's bound
};

// What is trusted across reconnects: the fingerprint accepted (or found in the file)
// on the first connection.
struct TrustMemo {
  std::optional<std::string> fingerprint;
};

struct TlsResult {
  std::unique_ptr<Connection> conn;
  int exit_code = 0;  // when conn is null: why (exit_code::*)
  std::string error;  // when conn is null: one or more lines for people
  // Lines of known_servers that were ignored ("FILE:LINE: ..."), for the user.
  std::vector<std::string> warnings;
  // The user was asked: the server may have given up waiting for our hello, so the
  // caller connects again (the certificate is trusted now).
  bool asked = false;
};

// TLS over the connected socket `sock` to host:port: SNI, host-name and chain
// verification, else trust on first use (a question on the terminal only when
// `may_prompt`). Blocking, bounded by `config.timeout_ms` per step.
TlsResult tls_connect(UniqueFd sock, const std::string& host, const std::string& port,
                      const TlsConfig& config, TrustMemo& memo, bool may_prompt);

}  // namespace chat::client
