// Registered nicks without sockets: the hub's hello decisions, the account file, the worker.
#include <gtest/gtest.h>
#include <poll.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "daemon/accounts.hpp"
#include "daemon/control.hpp"
#include "daemon/hub.hpp"
#include "daemon/verifier.hpp"
#include "protocol/codec.hpp"
#include "protocol/frame.hpp"
#include "protocol/rules.hpp"

namespace chat::daemon {
namespace {

using namespace std::chrono_literals;

// Records the first error code sent to each session and the closes.
class Outbox final : public daemon::Outbox {
 public:
  void send(SessionId id, const Frame& frame) override {
    proto::FrameDecoder d;
    d.feed(frame.bytes());
    std::string_view payload;
    ASSERT_EQ(d.next(payload), proto::FrameDecoder::Status::kFrame);
    auto decoded = proto::decode_server(payload);
    ASSERT_TRUE(std::holds_alternative<proto::ServerPacket>(decoded));
    const auto& p = std::get<proto::ServerPacket>(decoded);
    if (const auto* e = std::get_if<proto::Error>(&p)) {
      errors[id] = e->code;
      texts[id] = e->message;
    }
    if (const auto* j = std::get_if<proto::Join>(&p)) {
      joins[id].push_back(j->nick);
    }
    payloads[id].emplace_back(payload);
  }
  void close(SessionId id, std::string_view reason) override { closed[id] = std::string(reason); }
  std::map<SessionId, std::string> errors, texts, closed;
  std::map<SessionId, std::vector<std::string>> joins, payloads;
};

// Accounts in a map; verification answered by the test (auth_result).
class FakeAuth final : public Authenticator {
 public:
  bool registered(std::string_view nick) const override {
    return passwords.count(proto::nick_key(nick)) != 0;
  }
  Start start_verify(SessionId id, std::string_view nick, std::string password) override {
    started.push_back(id);
    ok[id] = passwords.at(proto::nick_key(nick)) == password;
    return next;
  }
  std::map<std::string, std::string> passwords;  // nick_key -> password
  std::vector<SessionId> started;
  std::map<SessionId, bool> ok;
  Start next = Start::kStarted;
};

std::string hello(std::string_view nick, std::optional<std::string> password = std::nullopt) {
  proto::Hello h{std::string(nick), std::vector<std::string>{}};
  h.password = std::move(password);
  return proto::encode(proto::ClientPacket{h});
}

class HubAuth : public ::testing::Test {
 protected:
  void SetUp() override {
    auth.passwords[proto::nick_key("pat")] = "right";
    hub.set_authenticator(&auth);
  }
  void connect(SessionId id, Transport t = Transport::kTls) {
    hub.connect(id, "127.0.0.1:" + std::to_string(1000 + id), t);
  }
  HubConfig config(bool require = false, bool plaintext = false) {
    HubConfig c;
    c.require_accounts = require;
    c.allow_plaintext_passwords = plaintext;
    return c;
  }
  Outbox out;
  FakeAuth auth;
  Hub hub{out, HubConfig{}};
};

TEST_F(HubAuth, RightPasswordJoinsAfterTheVerification) {
  connect(1);
  hub.receive(1, hello("Pat", "right"));
  EXPECT_TRUE(hub.verifying(1));
  EXPECT_FALSE(hub.joined(1));
  EXPECT_TRUE(out.payloads[1].empty()) << "nothing is said before the hello is decided";
  hub.auth_result(1, auth.ok[1]);
  EXPECT_TRUE(hub.joined(1));
  EXPECT_FALSE(hub.verifying(1));
  EXPECT_EQ(out.joins[1], std::vector<std::string>{"Pat"});
  EXPECT_EQ(hub.counters().auth_failures, 0U);
}

TEST_F(HubAuth, WrongOrMissingPasswordIsAuthFailedAndClosed) {
  connect(1);
  hub.receive(1, hello("pat", "wrong"));
  hub.auth_result(1, auth.ok[1]);
  EXPECT_EQ(out.errors[1], "auth-failed");
  EXPECT_EQ(out.closed[1], "auth-failed");
  EXPECT_EQ(out.texts[1].find("wrong\""), std::string::npos);
  connect(2);
  hub.receive(2, hello("pAt"));  // a look-alike spelling is the same account
  EXPECT_EQ(out.errors[2], "auth-failed");
  EXPECT_NE(out.texts[2].find("password is required"), std::string::npos) << out.texts[2];
  EXPECT_EQ(auth.started.size(), 1U) << "no hashing without a password";
  EXPECT_EQ(hub.counters().auth_failures, 2U);
  EXPECT_EQ(hub.joined_count(), 0U);
}

TEST_F(HubAuth, PasswordOverPlainIsTlsRequiredUnlessAllowed) {
  connect(1, Transport::kPlain);
  hub.receive(1, hello("pat", "right"));
  EXPECT_EQ(out.errors[1], "tls-required");
  EXPECT_TRUE(auth.started.empty()) << "a refused password is not even hashed";
  // The same for an unregistered nick: the password crossed in clear either way.
  connect(2, Transport::kPlain);
  hub.receive(2, hello("chris", "x"));
  EXPECT_EQ(out.errors[2], "tls-required");
  hub.set_config(config(false, true));
  connect(3, Transport::kPlain);
  hub.receive(3, hello("pat", "right"));
  ASSERT_TRUE(hub.verifying(3));
  hub.auth_result(3, auth.ok[3]);
  EXPECT_TRUE(hub.joined(3));
}

TEST_F(HubAuth, UnregisteredNickNeedsNoPasswordAndOneSentIsIgnored) {
  connect(1, Transport::kPlain);
  hub.receive(1, proto::encode(proto::ClientPacket{proto::Hello{"chris", std::nullopt}}));
  EXPECT_TRUE(hub.joined(1));
  connect(2);
  hub.receive(2, hello("leslie", "anything"));
  EXPECT_TRUE(hub.joined(2));
  EXPECT_TRUE(auth.started.empty());
}

TEST_F(HubAuth, RequireAccountsRefusesUnregisteredAndPart1Hellos) {
  hub.set_config(config(true));
  connect(1, Transport::kPlain);
  hub.receive(1, proto::encode(proto::ClientPacket{proto::Hello{"chris", std::nullopt}}));
  EXPECT_EQ(out.errors[1], "auth-failed");
  EXPECT_NE(out.texts[1].find("registered nicks only"), std::string::npos);
  connect(2);
  hub.receive(2, hello("pat", "right"));
  hub.auth_result(2, auth.ok[2]);
  EXPECT_TRUE(hub.joined(2));
}

TEST_F(HubAuth, NickIsHeldWhileItsPasswordIsChecked) {
  connect(1);
  connect(2);
  connect(3);
  hub.receive(1, hello("pat", "right"));
  hub.receive(2, hello("PAT", "right"));  // racing the first
  EXPECT_EQ(out.errors[2], "nick-taken");
  hub.auth_result(1, true);
  EXPECT_TRUE(hub.joined(1));
  hub.receive(3, hello("pat", "right"));
  EXPECT_EQ(out.errors[3], "nick-taken");
  EXPECT_EQ(auth.started.size(), 1U);
}

TEST_F(HubAuth, FailedCheckFreesTheNick) {
  connect(1);
  connect(2);
  hub.receive(1, hello("pat", "wrong"));
  hub.auth_result(1, false);
  hub.receive(2, hello("pat", "right"));
  hub.auth_result(2, true);
  EXPECT_TRUE(hub.joined(2));
}

TEST_F(HubAuth, DisconnectWhileVerifyingThenLateResultIsIgnored) {
  connect(1);
  hub.receive(1, hello("pat", "right"));
  hub.disconnect(1, "eof");
  EXPECT_FALSE(hub.verifying(1));
  hub.auth_result(1, true);  // late: nothing happens, nothing crashes
  EXPECT_EQ(hub.joined_count(), 0U);
  EXPECT_TRUE(out.joins[1].empty());
  connect(2);
  hub.receive(2, hello("pat", "right"));
  hub.auth_result(2, true);
  EXPECT_TRUE(hub.joined(2)) << "the held nick was released at the disconnect";
}

TEST_F(HubAuth, ThrottledAndBusyAreAuthFailedWithoutWaiting) {
  auth.next = Authenticator::Start::kThrottled;
  connect(1);
  hub.receive(1, hello("pat", "right"));
  EXPECT_EQ(out.errors[1], "auth-failed");
  EXPECT_NE(out.texts[1].find("too many failed logins"), std::string::npos);
  auth.next = Authenticator::Start::kBusy;
  connect(2);
  hub.receive(2, hello("pat", "right"));
  EXPECT_EQ(out.errors[2], "auth-failed");
  EXPECT_EQ(hub.counters().auth_throttled, 2U);
  EXPECT_FALSE(hub.verifying(2));
}

// ---- the account file ------------------------------------------------------

class AccountFile : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/chat-accounts-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir = tmpl;
    path = dir + "/accounts";
    ASSERT_EQ(::sodium_init() >= 0, true);
  }
  void TearDown() override { std::filesystem::remove_all(dir); }
  void write(const std::string& text) { std::ofstream(path, std::ios::binary) << text; }
  std::string load_error() {
    auto r = AccountStore::load(path);
    auto* e = std::get_if<std::string>(&r);
    return e == nullptr ? "" : *e;
  }
  std::string dir, path;
};

const std::string kHash =
    "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$"
    "ZHVtbXloYXNoZHVtbXloYXNoZHVtbXloYXNoZHVtbXk";

TEST_F(AccountFile, MissingFileIsNoAccounts) {
  auto r = AccountStore::load(path);
  ASSERT_TRUE(std::holds_alternative<AccountStore>(r));
  EXPECT_EQ(std::get<AccountStore>(r).size(), 0U);
}

TEST_F(AccountFile, ChangesAreWrittenAtomicallyMode0600AndReadBack) {
  auto r = AccountStore::load(path);
  auto& store = std::get<AccountStore>(r);
  ASSERT_EQ(store.add("Pat", kHash).change, AccountStore::Change::kDone);
  EXPECT_EQ(store.add("pat", kHash).change, AccountStore::Change::kExists);
  EXPECT_EQ(store.add("p\u0430t", kHash).change, AccountStore::Change::kExists);  // Cyrillic а
  ASSERT_EQ(store.add("chris", kHash).change, AccountStore::Change::kDone);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600U);
  EXPECT_EQ(st.st_uid, ::geteuid());
  auto again = AccountStore::load(path);
  ASSERT_TRUE(std::holds_alternative<AccountStore>(again)) << std::get<std::string>(again);
  const auto& loaded = std::get<AccountStore>(again);
  EXPECT_EQ(loaded.nicks(), (std::vector<std::string>{"chris", "Pat"}));
  ASSERT_NE(loaded.find("PAT"), nullptr);
  EXPECT_EQ(loaded.find("PAT")->hash, kHash);
  EXPECT_EQ(store.remove("PAT").change, AccountStore::Change::kDone);
  EXPECT_EQ(store.remove("pat").change, AccountStore::Change::kNoSuchAccount);
  EXPECT_EQ(store.set_hash("nobody", kHash).change, AccountStore::Change::kNoSuchAccount);
  // No temporary file is left behind.
  std::size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 1U);
}

TEST_F(AccountFile, WriteFailureChangesNothing) {
  auto r = AccountStore::load(path);
  auto& store = std::get<AccountStore>(r);
  ASSERT_EQ(store.add("pat", kHash).change, AccountStore::Change::kDone);
  if (::geteuid() == 0) {
    // root ignores directory modes: make the target a directory so rename fails.
    std::filesystem::remove(path);
    std::filesystem::create_directory(path);
    std::ofstream(path + "/x") << "x";
  } else {
    ::chmod(dir.c_str(), 0500);
  }
  const auto result = store.add("chris", kHash);
  ASSERT_TRUE(result.io_error.has_value());
  EXPECT_NE(result.io_error->find(path), std::string::npos) << *result.io_error;
  EXPECT_EQ(store.find("chris"), nullptr);
  ::chmod(dir.c_str(), 0700);
}

TEST_F(AccountFile, CorruptFilesNameTheLine) {
  const std::string header = "# comment\n\n";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {header + "pat " + kHash + "\n", ":3: expected NICK<TAB>HASH"},
      {header + "pat\t" + kHash + "\tx\n", ":3: expected NICK<TAB>HASH"},
      {header + "p:t\t" + kHash + "\n", ":3: the nick is not a valid nick"},
      {header + "pat\t$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$aGFzaGhhc2hoYXNoaGFzaGhhc2g\n",
       ":3: not an Argon2id"},
      {header + "pat\t" + kHash + "\nPAT\t" + kHash + "\n", ":4: the nick (or a look-alike"},
      {header + "pat\t$argon2id$v=19$m=4194304,t=2,p=1$c29tZXNhbHRzb21l$ZHVtbXloYXNoZHVtbXloYXNo\n",
       ":3: the Argon2id costs are out of range"},
      {header + std::string(600, 'x') + "\n", ":3: line longer than"},
      {header + "pat\t" + kHash + std::string(1, '\0') + "\n", ":3: "},
  };
  for (const auto& [text, expected] : cases) {
    write(text);
    const std::string error = load_error();
    EXPECT_NE(error.find(path + expected), std::string::npos) << error;
    EXPECT_EQ(error.find("ZHVtbXloYXNo"), std::string::npos) << "a hash is never quoted";
  }
}

TEST_F(AccountFile, UnreadableFileIsAnErrorNotNoAccounts) {
  std::filesystem::create_directory(path);  // a directory cannot be read as the file
  EXPECT_NE(load_error().find(path), std::string::npos);
}

TEST(AccountHash, OnlyWellFormedAffordableArgon2idStrings) {
  ASSERT_GE(::sodium_init(), 0);
  char real[crypto_pwhash_STRBYTES];
  ASSERT_EQ(::crypto_pwhash_str(real, "pw", 2, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                crypto_pwhash_MEMLIMIT_INTERACTIVE),
            0);
  EXPECT_TRUE(is_acceptable_hash(real)) << real;
  EXPECT_TRUE(is_acceptable_hash(kHash));
  for (const std::string& bad : {
           std::string(""),
           std::string("plaintext"),
           std::string("$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"),
           std::string("$argon2id$v=16$m=65536,t=2,p=1$c29tZXNhbHRzb21l$ZHVtbXloYXNoZHVtbXloYXNo"),
           std::string("$argon2id$v=19$m=65536,t=2,p=4$c29tZXNhbHRzb21l$ZHVtbXloYXNoZHVtbXloYXNo"),
           std::string("$argon2id$v=19$m=65536,t=99,p=1$c29tZXNhbHRzb21l$ZHVtbXloYXNoZHVtbXloYXNo"),
           std::string("$argon2id$v=19$m=065536,t=2,p=1$c29tZXNhbHRzb21l$ZHVtbXloYXNoZHVtbXloYXNo"),
           std::string("$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHRzb21l$ZHVtbXloYXNo ZHVtbXloYXNo"),
           std::string("$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHRzb21l$ZHVtbXloYXNoZHVtbXloYXNo$"),
           kHash + std::string(200, 'A'),
       }) {
    EXPECT_FALSE(is_acceptable_hash(bad)) << bad;
  }
}

TEST(AccountCommands, AreAdminOnly) {
  for (const char* name : {"account-add", "account-del", "account-passwd", "account-list"}) {
    const auto* spec = proto::find_control_command(name);
    ASSERT_NE(spec, nullptr) << name;
    EXPECT_FALSE(is_read_only(*spec)) << name;
  }
}

// ---- the worker (also run under TSan: the tsan preset's filter includes "Worker") ----

TEST(VerifierWorker, ResultsComeBackThroughTheWakeFdWithoutBlockingTheCaller) {
  std::atomic<int> checks{0};
  Verifier v(8, [&](const std::string& hash, const std::string& password) {
    std::this_thread::sleep_for(20ms);  // a slow hash
    ++checks;
    return hash == "h-" + password;
  });
  const auto before = std::chrono::steady_clock::now();
  for (std::uint64_t id = 1; id <= 4; ++id) {
    ASSERT_TRUE(v.submit(id, "h-pw", id % 2 == 0 ? "pw" : "nope"));
  }
  EXPECT_LT(std::chrono::steady_clock::now() - before, 15ms) << "submit never waits for a hash";
  std::map<std::uint64_t, bool> results;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (results.size() < 4 && std::chrono::steady_clock::now() < deadline) {
    pollfd p{v.wake_fd(), POLLIN, 0};
    if (::poll(&p, 1, 100) > 0) {
      for (const auto& r : v.take_results()) {
        results[r.id] = r.ok;
      }
    }
  }
  ASSERT_EQ(results.size(), 4U);
  EXPECT_EQ(results, (std::map<std::uint64_t, bool>{{1, false}, {2, true}, {3, false}, {4, true}}));
  EXPECT_EQ(v.outstanding(), 0U);
  EXPECT_EQ(checks.load(), 4);
}

TEST(VerifierWorker, OutstandingJobsAreBoundedAndResultsNotTakenCount) {
  std::atomic<bool> release{false};
  Verifier v(3, [&](const std::string&, const std::string&) {
    while (!release.load()) {
      std::this_thread::sleep_for(1ms);
    }
    return true;
  });
  EXPECT_TRUE(v.submit(1, "h", "p"));
  EXPECT_TRUE(v.submit(2, "h", "p"));
  EXPECT_TRUE(v.submit(3, "h", "p"));
  EXPECT_FALSE(v.submit(4, "h", "p")) << "a fourth job is refused, not queued";
  release = true;
  std::size_t taken = 0;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (taken < 3 && std::chrono::steady_clock::now() < deadline) {
    pollfd p{v.wake_fd(), POLLIN, 0};
    if (::poll(&p, 1, 100) > 0) {
      taken += v.take_results().size();
    }
  }
  EXPECT_EQ(taken, 3U);
  EXPECT_TRUE(v.submit(5, "h", "p"));
}

TEST(VerifierWorker, DestroyedWithJobsQueuedStopsPromptly) {
  Verifier v(16, [](const std::string&, const std::string&) {
    std::this_thread::sleep_for(5ms);
    return false;
  });
  for (std::uint64_t id = 0; id < 16; ++id) {
    v.submit(id, "h", "p");
  }
  // The destructor drops what has not started and joins the worker.
}

TEST(VerifierWorker, RealArgon2idHashesVerify) {
  ASSERT_GE(::sodium_init(), 0);
  char hash[crypto_pwhash_STRBYTES];
  ASSERT_EQ(::crypto_pwhash_str(hash, "s3cret", 6, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                crypto_pwhash_MEMLIMIT_INTERACTIVE),
            0);
  Verifier v(4);
  ASSERT_TRUE(v.submit(1, hash, "s3cret"));
  ASSERT_TRUE(v.submit(2, hash, "s3cret "));
  std::map<std::uint64_t, bool> results;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (results.size() < 2 && std::chrono::steady_clock::now() < deadline) {
    pollfd p{v.wake_fd(), POLLIN, 0};
    if (::poll(&p, 1, 100) > 0) {
      for (const auto& r : v.take_results()) {
        results[r.id] = r.ok;
      }
    }
  }
  EXPECT_EQ(results, (std::map<std::uint64_t, bool>{{1, true}, {2, false}}));
}

}  // namespace
}  // namespace chat::daemon
