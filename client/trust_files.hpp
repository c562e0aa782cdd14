// The files chat_client trusts: known_servers (TLS trust on first use) and --password-file.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chat::client {

// One remembered server: "HOST:PORT FINGERPRINT" on line `line` of the file.
struct KnownServer {
  std::string server;       // "example.org:3490", "[::1]:3490"
  std::string fingerprint;  // SHA-256 of the DER certificate, "AB:CD:..." (32 pairs, upper case)
  int line = 0;
};

struct KnownServers {
  std::vector<KnownServer> entries;
  // "FILE:LINE: what is wrong" for each line that was ignored (never fatal).
  std::vector<std::string> warnings;
  // The first entry for `server`, if any.
  const KnownServer* find(std::string_view server) const;
};

// The longest known_servers file read; the rest is ignored with a warning.
inline constexpr std::size_t kMaxKnownServersBytes = std::size_t{1} << 20;

// $XDG_CONFIG_HOME/chat_client/known_servers, else ~/.config/chat_client/known_servers;
// "" when neither variable helps.
std::string known_servers_path();
// The file's key for a server: "host:port", an IPv6 address in brackets.
std::string server_key(std::string_view host, std::string_view port);
// A fingerprint as stored: 32 colon-separated hex pairs; lower case is accepted and
// returned upper case; nullopt when malformed.
std::optional<std::string> normalize_fingerprint(std::string_view text);
// Parses the file's text; `path` names it in warnings.
KnownServers parse_known_servers(std::string_view text, const std::string& path);
// Reads and parses `path`; a missing file is empty, an unreadable one a warning.
KnownServers load_known_servers(const std::string& path);
// Appends "server fingerprint", creating the directory (0700) and file (0600) if
// needed; false and `error` set when it cannot.
bool remember_server(const std::string& path, const std::string& server,
                     const std::string& fingerprint, std::string& error);

// --password-file: the first line without its line ending. nullopt and `error` set
// when it cannot be read, is empty, or others may read it (like ssh's private keys).
std::optional<std::string> read_password_file(const std::string& path, std::string& error);

}  // namespace chat::client
