// Registered nicks: the account file in chatd's state directory (nick -> Argon2id hash).
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace chat::daemon {

// The file's name inside the state directory.
inline constexpr std::string_view kAccountsFile = "accounts";
// Longest hash string accepted (crypto_pwhash_STRBYTES is 128 with its NUL).
inline constexpr std::size_t kMaxHashString = 127;
// Most accounts the file may hold: keeps a load, a save and `account list` bounded.
inline constexpr std::size_t kMaxAccounts = 10000;

// True for an Argon2id string chatd will store and later verify against: the
// `$argon2id$v=19$m=M,t=T,p=P$SALT$HASH` shape from crypto_pwhash_str, printable
// ASCII, at most kMaxHashString bytes, and costs a verification can afford
// (m <= 256 MiB, t <= 16, p == 1), so a stored hash cannot make a login stall the
// worker or exhaust memory. `why` says what is wrong.
bool is_acceptable_hash(std::string_view hash, std::string* why = nullptr);

struct Account {
  std::string nick;  // as registered
  std::string hash;  // Argon2id string (never logged)
};

// The accounts, keyed by proto::nick_key: case and look-alike variants of a nick
// are one account. Loading and saving only; no hashing happens here.
class AccountStore {
 public:
  AccountStore() = default;
  explicit AccountStore(std::string path) : path_(std::move(path)) {}

  // Reads `path`. A missing file is an empty store. An unreadable or malformed
  // file is an error naming the file (and line): "PATH:LINE: what".
  static std::variant<AccountStore, std::string> load(const std::string& path);

  const std::string& path() const { return path_; }
  std::size_t size() const { return accounts_.size(); }
  const Account* find(std::string_view nick) const;
  // In nick-key order.
  std::vector<std::string> nicks() const;

  // Each change is written to disk (temporary file, fsync, rename, fsync of the
  // directory) before it takes effect; on a write error nothing changes and the
  // error (naming the file) is returned.
  enum class Change { kDone, kExists, kNoSuchAccount, kFull };
  struct Result {
    Change change;
    std::optional<std::string> io_error;
  };
  Result add(std::string_view nick, std::string hash);
  Result set_hash(std::string_view nick, std::string hash);
  Result remove(std::string_view nick);

 private:
  std::optional<std::string> save(const std::map<std::string, Account>& accounts) const;

  std::string path_;
  std::map<std::string, Account> accounts_;  // nick_key -> account
};

}  // namespace chat::daemon
