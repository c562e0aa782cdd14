// The account file: strict line parser with FILE:LINE errors, atomic rewrite on each change.
#include "daemon/accounts.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "common/unique_fd.hpp"
#include "protocol/rules.hpp"

namespace chat::daemon {
namespace {

constexpr std::string_view kHeader =
    "# chatd accounts: NICK<TAB>ARGON2ID-HASH per line. Written by chatd; change it with "
    "chatctl account.\n";
// Longest line read: a nick (32 code points, at most 128 bytes), a tab and a hash.
constexpr std::size_t kMaxLine = 512;
// Cost bounds of a stored hash (see is_acceptable_hash).
constexpr unsigned long kMaxMemKiB = 256UL * 1024;
constexpr unsigned long kMaxPasses = 16;

bool is_b64(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

// Reads "NAME=NUMBER" at the front of `s`, advancing it.
std::optional<unsigned long> take_param(std::string_view& s, std::string_view name) {
  if (s.substr(0, name.size()) != name || s.size() <= name.size() || s[name.size()] != '=') {
    return std::nullopt;
  }
  s.remove_prefix(name.size() + 1);
  unsigned long value = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end == s.data() || (s[0] == '0' && end - s.data() > 1)) {
    return std::nullopt;
  }
  s.remove_prefix(static_cast<std::size_t>(end - s.data()));
  return value;
}

bool take(std::string_view& s, std::string_view prefix) {
  if (s.substr(0, prefix.size()) != prefix) {
    return false;
  }
  s.remove_prefix(prefix.size());
  return true;
}

bool take_b64(std::string_view& s, std::size_t min_len) {
  std::size_t n = 0;
  while (n < s.size() && is_b64(s[n])) {
    ++n;
  }
  if (n < min_len) {
    return false;
  }
  s.remove_prefix(n);
  return true;
}

std::string errno_text(int err) {
  return std::strerror(err);
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

bool is_acceptable_hash(std::string_view hash, std::string* why) {
  auto fail = [&](const char* what) {
    if (why != nullptr) {
      *why = what;
    }
    return false;
  };
  if (hash.size() > kMaxHashString) {
    return fail("the hash string is too long");
  }
  for (const char c : hash) {
    if (c <= ' ' || c > '~') {
      return fail("the hash string holds a character that is not printable ASCII");
    }
  }
  std::string_view s = hash;
  if (!take(s, "$argon2id$")) {
    return fail("not an Argon2id hash string (it must start with $argon2id$)");
  }
  if (!take(s, "v=19$")) {
    return fail("the Argon2id version is not 19");
  }
  const auto m = take_param(s, "m");
  const bool comma1 = m && take(s, ",");
  const auto t = comma1 ? take_param(s, "t") : std::nullopt;
  const bool comma2 = t && take(s, ",");
  const auto p = comma2 ? take_param(s, "p") : std::nullopt;
  if (!p || !take(s, "$")) {
    return fail("the Argon2id parameters are not m=N,t=N,p=N");
  }
  if (*m < 8 || *m > kMaxMemKiB || *t < 1 || *t > kMaxPasses || *p != 1) {
    return fail("the Argon2id costs are out of range (m 8..262144 KiB, t 1..16, p 1)");
  }
  // Salt (at least 8 bytes: 11 base64 characters) and hash (at least 16 bytes).
  if (!take_b64(s, 11) || !take(s, "$") || !take_b64(s, 22) || !s.empty()) {
    return fail("the salt or hash of the Argon2id string is malformed");
  }
  return true;
}

std::variant<AccountStore, std::string> AccountStore::load(const std::string& path) {
  AccountStore store(path);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    std::error_code ec;
    if (!std::filesystem::exists(path, ec) && !ec) {
      return store;  // no accounts yet
    }
    return path + ": cannot read the account file: " + errno_text(err);
  }
  std::string line;
  std::size_t number = 0;
  std::map<std::string, std::size_t> lines;  // nick_key -> line, for duplicates
  while (true) {
    line.clear();
    char c = 0;
    bool any = false;
    while (in.get(c) && c != '\n') {
      any = true;
      if (line.size() == kMaxLine) {
        return path + ":" + std::to_string(number + 1) + ": line longer than " +
               std::to_string(kMaxLine) + " bytes";
      }
      line.push_back(c);
    }
    if (!any && !in) {
      break;
    }
    ++number;
    const std::string where = path + ":" + std::to_string(number) + ": ";
    if (line.empty() || line[0] == '#') {
      continue;
    }
    const auto tab = line.find('\t');
    if (tab == std::string::npos || line.find('\t', tab + 1) != std::string::npos) {
      return where + "expected NICK<TAB>HASH";
    }
    const std::string_view nick(line.data(), tab);
    const std::string_view hash = std::string_view(line).substr(tab + 1);
    if (!proto::is_valid_nick(nick)) {
      return where + "the nick is not a valid nick";
    }
    std::string why;
    if (!is_acceptable_hash(hash, &why)) {
      return where + why;
    }
    std::string key = proto::nick_key(nick);
    if (const auto seen = lines.find(key); seen != lines.end()) {
      return where + "the nick (or a look-alike of it) is already on line " +
             std::to_string(seen->second);
    }
    if (store.accounts_.size() == kMaxAccounts) {
      return where + "more than " + std::to_string(kMaxAccounts) + " accounts";
    }
    lines.emplace(key, number);
    store.accounts_.emplace(std::move(key), Account{std::string(nick), std::string(hash)});
  }
  if (in.bad()) {
    return path + ": cannot read the account file: " + errno_text(errno);
  }
  return store;
}

const Account* AccountStore::find(std::string_view nick) const {
  const auto it = accounts_.find(proto::nick_key(nick));
  return it == accounts_.end() ? nullptr : &it->second;
}

std::vector<std::string> AccountStore::nicks() const {
  std::vector<std::string> out;
  out.reserve(accounts_.size());
  for (const auto& [key, account] : accounts_) {
    out.push_back(account.nick);
  }
  return out;
}

AccountStore::Result AccountStore::add(std::string_view nick, std::string hash) {
  std::string key = proto::nick_key(nick);
  if (accounts_.count(key) != 0) {
    return {Change::kExists, std::nullopt};
  }
  if (accounts_.size() >= kMaxAccounts) {
    return {Change::kFull, std::nullopt};
  }
  auto next = accounts_;
  next.emplace(std::move(key), Account{std::string(nick), std::move(hash)});
  if (auto error = save(next)) {
    return {Change::kDone, std::move(error)};
  }
  accounts_ = std::move(next);
  return {Change::kDone, std::nullopt};
}

AccountStore::Result AccountStore::set_hash(std::string_view nick, std::string hash) {
  const auto it = accounts_.find(proto::nick_key(nick));
  if (it == accounts_.end()) {
    return {Change::kNoSuchAccount, std::nullopt};
  }
  auto next = accounts_;
  next[it->first].hash = std::move(hash);
  if (auto error = save(next)) {
    return {Change::kDone, std::move(error)};
  }
  accounts_ = std::move(next);
  return {Change::kDone, std::nullopt};
}

AccountStore::Result AccountStore::remove(std::string_view nick) {
  const auto it = accounts_.find(proto::nick_key(nick));
  if (it == accounts_.end()) {
    return {Change::kNoSuchAccount, std::nullopt};
  }
  auto next = accounts_;
  next.erase(it->first);
  if (auto error = save(next)) {
    return {Change::kDone, std::move(error)};
  }
  accounts_ = std::move(next);
  return {Change::kDone, std::nullopt};
}

std::optional<std::string> AccountStore::save(
    const std::map<std::string, Account>& accounts) const {
  if (path_.empty()) {
    return std::string("no state directory is set");
  }
  const std::filesystem::path file(path_);
  const std::filesystem::path dir = file.has_parent_path() ? file.parent_path() : ".";
  std::error_code ec;
  if (std::filesystem::create_directories(dir, ec)) {
    ::chmod(dir.c_str(), 0700);
  } else if (ec) {
    return "cannot create the state directory " + dir.string() + ": " + ec.message();
  }
  std::string text(kHeader);
  for (const auto& [key, account] : accounts) {
    text += account.nick;
    text += '\t';
    text += account.hash;
    text += '\n';
  }
  std::string tmp = path_ + ".tmp.XXXXXX";
  // mkstemp creates the file 0600 whatever the umask; owned by chatd's user.
  UniqueFd fd(::mkostemp(tmp.data(), O_CLOEXEC));
  if (!fd) {
    return "cannot create a temporary file beside " + path_ + ": " + errno_text(errno);
  }
  auto fail = [&](const std::string& what) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return what + " " + path_ + ": " + errno_text(err);
  };
  if (::fchmod(fd.get(), 0600) != 0) {
    return fail("cannot set mode 0600 on the new");
  }
  if (!write_all(fd.get(), text)) {
    return fail("cannot write the new");
  }
  if (::fsync(fd.get()) != 0) {
    return fail("cannot fsync the new");
  }
  fd.reset();
  if (::rename(tmp.c_str(), path_.c_str()) != 0) {
    return fail("cannot rename the new account file over");
  }
  // The rename itself must reach the disk too.
  UniqueFd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd) {
    (void)::fsync(dir_fd.get());
  }
  return std::nullopt;
}

}  // namespace chat::daemon
