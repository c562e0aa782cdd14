// known_servers parsing and appending, and reading --password-file safely.
#include "client/trust_files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "common/unique_fd.hpp"
#include "protocol/rules.hpp"

namespace chat::client {
namespace {

constexpr std::size_t kFingerprintPairs = 32;  // SHA-256
// A password file's first line longer than this is refused (no password is this long).
constexpr std::size_t kMaxPasswordBytes = 4096;

bool is_hex(char c) {
  return std::isxdigit(static_cast<unsigned char>(c)) != 0;
}

// "host:port" or "[v6]:port" with a port of 1..65535 and a host of printable ASCII.
bool valid_server(std::string_view s) {
  const std::size_t colon = s.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == s.size()) {
    return false;
  }
  const std::string_view host = s.substr(0, colon);
  const std::string_view port = s.substr(colon + 1);
  if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos) {
    return false;
  }
  const long n = std::strtol(std::string(port).c_str(), nullptr, 10);
  if (n < 1 || n > 65535) {
    return false;
  }
  for (const char c : host) {
    if (c <= ' ' || c > '~') {
      return false;
    }
  }
  // An IPv6 address is bracketed, so a bare host holds no colon.
  if (host.front() == '[') {
    return host.size() > 2 && host.back() == ']';
  }
  return host.find(':') == std::string_view::npos;
}

// Splits at runs of spaces and tabs.
std::vector<std::string_view> fields_of(std::string_view line) {
  std::vector<std::string_view> fields;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) {
      ++i;
    }
    const std::size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') {
      ++i;
    }
    if (i > start) {
      fields.push_back(line.substr(start, i - start));
    }
  }
  return fields;
}

std::string config_dir() {
  const char* xdg = std::getenv("XDG_CONFIG_HOME");
  if (xdg != nullptr && *xdg == '/') {
    return std::string(xdg) + "/chat_client";
  }
  const char* home = std::getenv("HOME");
  if (home != nullptr && *home != '\0') {
    return std::string(home) + "/.config/chat_client";
  }
  return "";
}

// mkdir -p with `mode` for each directory it makes.
bool make_dirs(const std::string& dir, mode_t mode, std::string& error) {
  for (std::size_t at = 1; at <= dir.size(); ++at) {
    if (at == dir.size() || dir[at] == '/') {
      const std::string part = dir.substr(0, at);
      if (::mkdir(part.c_str(), mode) != 0 && errno != EEXIST) {
        error = "cannot create " + part + ": " + std::strerror(errno);
        return false;
      }
    }
  }
  return true;
}

}  // namespace

const KnownServer* KnownServers::find(std::string_view server) const {
  for (const auto& entry : entries) {
    if (entry.server == server) {
      return &entry;
    }
  }
  return nullptr;
}

std::string known_servers_path() {
  const std::string dir = config_dir();
  return dir.empty() ? "" : dir + "/known_servers";
}

std::string server_key(std::string_view host, std::string_view port) {
  std::string key =
      host.find(':') != std::string_view::npos ? "[" + std::string(host) + "]" : std::string(host);
  return key + ":" + std::string(port);
}

std::optional<std::string> normalize_fingerprint(std::string_view text) {
  if (text.size() != kFingerprintPairs * 3 - 1) {
    return std::nullopt;
  }
  std::string out(text);
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (i % 3 == 2) {
      if (out[i] != ':') {
        return std::nullopt;
      }
    } else if (!is_hex(out[i])) {
      return std::nullopt;
    } else {
      out[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[i])));
    }
  }
  return out;
}

KnownServers parse_known_servers(std::string_view text, const std::string& path) {
  KnownServers result;
  int number = 0;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++number;
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    const auto fields = fields_of(line);
    if (fields.empty() || fields.front().front() == '#') {
      continue;  // blank or a comment
    }
    const auto where = [&] { return path + ":" + std::to_string(number) + ": "; };
    if (fields.size() != 2) {
      result.warnings.push_back(where() + "expected \"HOST:PORT FINGERPRINT\"; line ignored");
      continue;
    }
    if (!valid_server(fields[0])) {
      result.warnings.push_back(where() + "not a HOST:PORT; line ignored");
      continue;
    }
    auto fingerprint = normalize_fingerprint(fields[1]);
    if (!fingerprint) {
      result.warnings.push_back(where() +
                                "not a SHA-256 fingerprint (32 hex pairs with colons); "
                                "line ignored");
      continue;
    }
    result.entries.push_back(KnownServer{std::string(fields[0]), std::move(*fingerprint), number});
  }
  return result;
}

KnownServers load_known_servers(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd) {
    KnownServers none;
    if (errno != ENOENT) {
      none.warnings.push_back(path + ": cannot read: " + std::strerror(errno));
    }
    return none;
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    KnownServers none;
    none.warnings.push_back(path + ": not a regular file; ignored");
    return none;
  }
  std::string text;
  std::array<char, 8192> buf{};
  bool cut = false;
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;
    }
    text.append(buf.data(), static_cast<std::size_t>(n));
    if (text.size() > kMaxKnownServersBytes) {
      cut = true;
      text.resize(kMaxKnownServersBytes);
      text.erase(text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1);
      break;
    }
  }
  KnownServers result = parse_known_servers(text, path);
  if (cut) {
    result.warnings.push_back(path + ": larger than " + std::to_string(kMaxKnownServersBytes) +
                              " bytes; the rest is ignored");
  }
  return result;
}

bool remember_server(const std::string& path, const std::string& server,
                     const std::string& fingerprint, std::string& error) {
  if (path.empty()) {
    error = "neither XDG_CONFIG_HOME nor HOME is set";
    return false;
  }
  const std::size_t slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0 && !make_dirs(path.substr(0, slash), 0700, error)) {
    return false;
  }
  UniqueFd fd(
      ::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW, 0600));
  if (!fd) {
    error = "cannot write " + path + ": " + std::strerror(errno);
    return false;
  }
  // A file whose last line has no newline would swallow ours.
  std::string line = server + " " + fingerprint + "\n";
  struct stat st {};
  if (::fstat(fd.get(), &st) == 0 && st.st_size > 0) {
    char last = '\n';
    if (::pread(fd.get(), &last, 1, st.st_size - 1) == 1 && last != '\n') {
      line.insert(line.begin(), '\n');
    }
  }
  if (::write(fd.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
    error = "cannot write " + path + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

std::optional<std::string> read_password_file(const std::string& path, std::string& error) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd) {
    error = "cannot read the password file " + path + ": " + std::strerror(errno);
    return std::nullopt;
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    error = "the password file " + path + " is not a regular file";
    return std::nullopt;
  }
  if ((st.st_mode & 0077) != 0) {
    std::array<char, 8> mode{};
    std::snprintf(mode.data(), mode.size(), "%04o", static_cast<unsigned>(st.st_mode & 07777));
    error = "the password file " + path + " may be read or changed by others (mode " + mode.data() +
            "); it is not used. Make it private: chmod 600 " + path;
    return std::nullopt;
  }
  std::string text;
  std::array<char, 1024> buf{};
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;
    }
    text.append(buf.data(), static_cast<std::size_t>(n));
    if (text.find('\n') != std::string::npos || text.size() > kMaxPasswordBytes) {
      break;
    }
  }
  text = text.substr(0, text.find('\n'));
  if (!text.empty() && text.back() == '\r') {
    text.pop_back();
  }
  if (text.size() > kMaxPasswordBytes) {
    error = "the first line of the password file " + path + " is longer than " +
            std::to_string(kMaxPasswordBytes) + " bytes";
    return std::nullopt;
  }
  if (text.empty()) {
    error = "the password file " + path + " has an empty first line";
    return std::nullopt;
  }
  if (!proto::is_valid_utf8(text)) {
    error = "the first line of the password file " + path + " is not valid UTF-8";
    return std::nullopt;
  }
  return text;
}

}  // namespace chat::client
