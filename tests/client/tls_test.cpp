// chat_client over TLS (issue 14): the real client in a pty or on pipes, talking TLS to
// a Python `ssl` peer that forwards to the real chatd, with certificates made here by
// the openssl CLI; trust on first use, known_servers, and passwords.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "harness.hpp"
#include "tests/support/chatd_process.hpp"
#include "tests/support/subprocess.hpp"
#include "tests/support/test_client.hpp"

namespace chat::test {
namespace {

namespace fs = std::filesystem;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// A temporary directory, removed at the end.
struct TempDir {
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "chat-tls-XXXXXX").string();
    path = ::mkdtemp(tmpl.data()) != nullptr ? tmpl : "";
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return path + "/" + name; }
  std::string path;
};

// The test's certificates, made once with the openssl CLI: a CA and a server
// certificate for 127.0.0.1 and localhost; one from the same CA for another name;
// two self-signed ones.
struct Certs {
  TempDir dir;
  bool ok = false;
  std::string ca, srv, srv_key, wrong, wrong_key, self, self_key, other, other_key;
  Certs() {
    const std::string d = dir.path;
    const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes ";
    const std::string quiet = " 2>/dev/null";
    const auto run = [](const std::string& cmd) { return std::system(cmd.c_str()) == 0; };
    ca = d + "/ca.pem";
    srv = d + "/srv.pem";
    srv_key = d + "/srv.key";
    wrong = d + "/wrong.pem";
    wrong_key = d + "/wrong.key";
    self = d + "/self.pem";
    self_key = d + "/self.key";
    other = d + "/other.pem";
    other_key = d + "/other.key";
    const auto signed_by_ca = [&](const std::string& name, const std::string& san) {
      write_file(d + "/" + name + ".ext", "subjectAltName=" + san + "\n");
      return run("openssl req" + ec + "-keyout " + d + "/" + name + ".key -out " + d + "/" + name +
                 ".csr -subj /CN=" + name + quiet) &&
             run("openssl x509 -req -in " + d + "/" + name + ".csr -CA " + ca + " -CAkey " + d +
                 "/ca.key -CAcreateserial -days 2 -out " + d + "/" + name + ".pem -extfile " + d +
                 "/" + name + ".ext" + quiet);
    };
    ok = run("openssl req -x509" + ec + "-keyout " + d + "/ca.key -out " + ca +
             " -days 2 -subj /CN=chat-test-CA" + quiet) &&
         signed_by_ca("srv", "IP:127.0.0.1,DNS:localhost") &&
         signed_by_ca("wrong", "DNS:chat.example.org") &&
         run("openssl req -x509" + ec + "-keyout " + self_key + " -out " + self +
             " -days 2 -subj /CN=self -addext subjectAltName=IP:127.0.0.1" + quiet) &&
         run("openssl req -x509" + ec + "-keyout " + other_key + " -out " + other +
             " -days 2 -subj /CN=self -addext subjectAltName=IP:127.0.0.1" + quiet);
  }
};

const Certs& certs() {
  static const Certs c;
  return c;
}

// What `openssl x509 -fingerprint -sha256` says, "AB:CD:..." (the independent opinion).
std::string openssl_fingerprint(const std::string& pem) {
  std::string out =
      run_process({"openssl", "x509", "-in", pem, "-noout", "-fingerprint", "-sha256"}).out;
  const auto eq = out.find('=');
  if (eq == std::string::npos) {
    return "<no fingerprint: " + out + ">";
  }
  out = out.substr(eq + 1);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) {
    out.pop_back();
  }
  return out;
}

// tests/client/tls_peer.py in one of its modes; port() once it listens.
class Peer {
 public:
  explicit Peer(const std::vector<std::string>& args) {
    std::vector<std::string> argv{"python3", TLS_PEER_PATH};
    argv.insert(argv.end(), args.begin(), args.end());
    std::string error;
    proc_ = Subprocess::spawn(argv, error);
    if (proc_) {
      const auto line = proc_->read_line();
      if (line && line->starts_with("PORT ")) {
        port_ = line->substr(5);
      }
    }
  }
  const std::string& port() const { return port_; }
  // The next line the peer prints that starts with `prefix` (others are kept in seen()).
  std::optional<std::string> line(const std::string& prefix,
                                  std::chrono::milliseconds wait = kPatience) {
    const auto until = std::chrono::steady_clock::now() + wait;
    while (std::chrono::steady_clock::now() < until) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now());
      auto l = proc_->read_line(left);
      if (!l) {
        return std::nullopt;
      }
      seen_.push_back(*l);
      if (l->starts_with(prefix)) {
        return l;
      }
    }
    return std::nullopt;
  }
  void command(const std::string& line) { proc_->write_stdin(line + "\n"); }
  std::string stderr_text() const { return proc_ ? proc_->stderr_text() : ""; }

 private:
  std::unique_ptr<Subprocess> proc_;
  std::string port_;
  std::vector<std::string> seen_;
};

ChatdConfig chatd_config() {
  ChatdConfig config;
  config.binary = CHATD_PATH;
  return config;
}

// The real chatd (plain) and a TLS proxy in front of it with `cert`.
struct TlsChat {
  TlsChat(const std::string& cert, const std::string& key) {
    std::string error;
    chatd = ChatdProcess::start(chatd_config(), error);
    if (chatd) {
      proxy = std::make_unique<Peer>(
          std::vector<std::string>{"proxy", "--cert", cert, "--key", key, "--forward",
                                   "127.0.0.1:" + std::to_string(chatd->port())});
    }
  }
  bool ok() const { return chatd && proxy && !proxy->port().empty(); }
  std::unique_ptr<ChatdProcess> chatd;
  std::unique_ptr<Peer> proxy;
};

// A plain client of chatd, joined as `nick`; its join has been read.
TestClient plain_member(std::uint16_t port, const std::string& nick) {
  TestClient c = TestClient::connect(port);
  if (c && c.send_hello(nick)) {
    (void)c.recv_packet();  // its own join
  }
  return c;
}

// The next chat packet `c` receives from `nick`, skipping joins and leaves.
std::optional<Packet> next_chat(TestClient& c, const std::string& nick) {
  for (int i = 0; i < 20; ++i) {
    auto p = c.recv_packet();
    if (!p) {
      return std::nullopt;
    }
    if (p->type == "chat" && p->get("nick") == nick) {
      return p;
    }
  }
  return std::nullopt;
}

std::string xdg_env(const TempDir& home) {
  return "XDG_CONFIG_HOME=" + home.path;
}

constexpr int kRows = 24;
constexpr int kCols = 160;  // a fingerprint line fits without wrapping

TEST(ClientTls, VerifiedConnectionChatsWithAPlainClientAndClosesWithCloseNotify) {
  ASSERT_TRUE(certs().ok);
  TlsChat chat(certs().srv, certs().srv_key);
  ASSERT_TRUE(chat.ok());
  TempDir home;
  PtyClient pat({"--tls", "--ca-file", certs().ca, "pat", "127.0.0.1", chat.proxy->port()}, kRows,
                kCols, {xdg_env(home)});
  ASSERT_TRUE(pat.wait_text("*** pat has joined lobby")) << pat.dump();
  TestClient chris = plain_member(chat.chatd->port(), "chris");
  ASSERT_TRUE(chris);
  ASSERT_TRUE(pat.wait_text("*** chris has joined lobby")) << pat.dump();
  ASSERT_TRUE(chris.send_chat("hello over tls"));
  EXPECT_TRUE(pat.wait_text("chris: hello over tls")) << pat.dump();
  pat.type("and back, encrypted\r");
  const auto got = next_chat(chris, "pat");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->get("message"), "and back, encrypted");
  EXPECT_TRUE(pat.wait_text("pat: and back, encrypted")) << pat.dump();
  EXPECT_EQ(pat.raw().find("(y/N)"), std::string::npos) << "a verified server needs no question";
  pat.type("/q\r");
  EXPECT_EQ(pat.wait_exit(), 0);
  EXPECT_TRUE(chat.proxy->line("EOF close_notify")) << "/q must end TLS with close_notify";
  EXPECT_FALSE(fs::exists(home / "chat_client/known_servers"));
}

TEST(ClientTls, PipeModeByHostNameVerifiesAndDrainsAfterEndOfInput) {
  ASSERT_TRUE(certs().ok);
  TlsChat chat(certs().srv, certs().srv_key);
  ASSERT_TRUE(chat.ok());
  TempDir home;
  PipedClient bot({"--tls", "--ca-file", certs().ca, "bot", "localhost", chat.proxy->port()},
                  {xdg_env(home)});
  bot.write_stdin("one\ntwo\n");
  bot.close_stdin();
  const std::string out = bot.read_all_stdout();
  EXPECT_EQ(bot.wait_exit(), 0) << bot.read_all_stderr();
  EXPECT_EQ(out, "*** bot has joined lobby\nbot: one\nbot: two\n");
}

TEST(ClientTls, CertificateForAnotherNameIsRefused) {
  ASSERT_TRUE(certs().ok);
  TlsChat chat(certs().wrong, certs().wrong_key);
  ASSERT_TRUE(chat.ok());
  TempDir home;
  for (const char* host : {"127.0.0.1", "localhost"}) {
    PipedClient bot({"--tls", "--ca-file", certs().ca, "bot", host, chat.proxy->port()},
                    {xdg_env(home)});
    bot.close_stdin();
    EXPECT_EQ(bot.wait_exit(), 77) << host;
    EXPECT_NE(bot.read_all_stderr().find(std::string("is not for ") + host), std::string::npos)
        << host;
  }
  // At a terminal too: --ca-file named the trusted CA, so nothing is asked.
  PtyClient pat({"--tls", "--ca-file", certs().ca, "pat", "localhost", chat.proxy->port()}, kRows,
                kCols, {xdg_env(home)});
  EXPECT_EQ(pat.wait_exit(), 77) << pat.dump();
  EXPECT_EQ(pat.raw().find("(y/N)"), std::string::npos);
}

TEST(ClientTls, SelfSignedAskedOnceThenRememberedAndTrustedSilently) {
  ASSERT_TRUE(certs().ok);
  TlsChat chat(certs().self, certs().self_key);
  ASSERT_TRUE(chat.ok());
  TempDir home;
  const std::string fp = openssl_fingerprint(certs().self);
  ASSERT_EQ(fp.size(), 95U) << fp;
  {
    PtyClient pat({"--tls", "pat", "127.0.0.1", chat.proxy->port()}, kRows, kCols, {xdg_env(home)});
    ASSERT_TRUE(pat.wait_text("(y/N)")) << pat.dump();
    EXPECT_TRUE(pat.wait_text(fp)) << pat.dump();
    pat.type("y\r");
    ASSERT_TRUE(pat.wait_text("*** pat has joined lobby")) << pat.dump();
    pat.type("/q\r");
    EXPECT_EQ(pat.wait_exit(), 0);
  }
  const std::string known = home / "chat_client/known_servers";
  EXPECT_EQ(read_file(known), "127.0.0.1:" + chat.proxy->port() + " " + fp + "\n");
  struct stat st {};
  ASSERT_EQ(::stat(known.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600U);
  ASSERT_EQ(::stat((home / "chat_client").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700U);
  // Next time: no question, in the terminal and in pipe mode alike.
  PtyClient again({"--tls", "pat", "127.0.0.1", chat.proxy->port()}, kRows, kCols, {xdg_env(home)});
  ASSERT_TRUE(again.wait_text("*** pat has joined lobby")) << again.dump();
  EXPECT_EQ(again.raw().find("(y/N)"), std::string::npos);
  again.type("/q\r");
  EXPECT_EQ(again.wait_exit(), 0);
  PipedClient bot({"--tls", "bot", "127.0.0.1", chat.proxy->port()}, {xdg_env(home)});
  bot.write_stdin("remembered\n");
  bot.close_stdin();
  EXPECT_EQ(bot.read_all_stdout(), "*** bot has joined lobby\nbot: remembered\n");
  EXPECT_EQ(bot.wait_exit(), 0);
}

TEST(ClientTls, SelfSignedAnsweredNoExitsWithoutConnecting) {
  ASSERT_TRUE(certs().ok);
  TlsChat chat(certs().self, certs().self_key);
  ASSERT_TRUE(chat.ok());
  TestClient chris = plain_member(chat.chatd->port(), "chris");
  ASSERT_TRUE(chris);
  TempDir home;
  PtyClient pat({"--tls", "pat", "127.0.0.1", chat.proxy->port()}, kRows, kCols, {xdg_env(home)});
  ASSERT_TRUE(pat.wait_text("(y/N)")) << pat.dump();
  pat.type("\r");  // the default is no
  EXPECT_EQ(pat.wait_exit(), 77);
  EXPECT_TRUE(pat.wait_text("not trusted; not connecting")) << pat.dump();
  EXPECT_FALSE(fs::exists(home / "chat_client/known_servers"));
  // chatd never saw pat: chris's next packet is its own line, not pat's join.
  ASSERT_TRUE(chris.send_chat("still alone"));
  const auto p = chris.recv_packet();
  ASSERT_TRUE(p);
  EXPECT_EQ(p->get("nick"), "chris") << p->describe();
}

TEST(ClientTls, ChangedCertificateIsRefusedLoudlyWithItsOwnExitCode) {
  ASSERT_TRUE(certs().ok);
  TlsChat chat(certs().self, certs().self_key);
  ASSERT_TRUE(chat.ok());
  TempDir home;
  fs::create_directories(home / "chat_client");
  const std::string known = home / "chat_client/known_servers";
  // The server was remembered with another certificate (line 3).
  write_file(known, "# servers\n\n127.0.0.1:" + chat.proxy->port() + " " +
                        openssl_fingerprint(certs().other) + "\n");
  PipedClient bot({"--tls", "bot", "127.0.0.1", chat.proxy->port()}, {xdg_env(home)});
  bot.write_stdin("never sent\n");
  bot.close_stdin();
  EXPECT_EQ(bot.wait_exit(), 79);
  const std::string err = bot.read_all_stderr();
  EXPECT_NE(err.find("HAS CHANGED"), std::string::npos) << err;
  EXPECT_NE(err.find("remove line 3 of " + known), std::string::npos) << err;
  EXPECT_NE(err.find(openssl_fingerprint(certs().self)), std::string::npos) << err;
  // In the terminal too: no question is asked about a changed certificate.
  PtyClient pat({"--tls", "pat", "127.0.0.1", chat.proxy->port()}, kRows, kCols, {xdg_env(home)});
  EXPECT_EQ(pat.wait_exit(), 79) << pat.dump();
  EXPECT_EQ(pat.raw().find("(y/N)"), std::string::npos);
}

TEST(ClientTls, PipeModeNeverAsksAndRefusesAnUnknownCertificate) {
  ASSERT_TRUE(certs().ok);
  TlsChat chat(certs().self, certs().self_key);
  ASSERT_TRUE(chat.ok());
  TempDir home;
  PipedClient bot({"--tls", "bot", "127.0.0.1", chat.proxy->port()}, {xdg_env(home)});
  bot.write_stdin("y\n");  // an answer on stdin must not count as one
  bot.close_stdin();
  EXPECT_EQ(bot.wait_exit(), 77);
  const std::string err = bot.read_all_stderr();
  EXPECT_NE(err.find("cannot ask"), std::string::npos) << err;
  EXPECT_NE(err.find(openssl_fingerprint(certs().self)), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(home / "chat_client/known_servers"));
}

TEST(ClientTls, MalformedKnownServersLinesAreReportedByNumberAndIgnored) {
  ASSERT_TRUE(certs().ok);
  TlsChat chat(certs().self, certs().self_key);
  ASSERT_TRUE(chat.ok());
  TempDir home;
  fs::create_directories(home / "chat_client");
  const std::string known = home / "chat_client/known_servers";
  const std::string fp = openssl_fingerprint(certs().self);
  write_file(known, "garbage\n127.0.0.1:99999 " + fp + "\n127.0.0.1:" + chat.proxy->port() +
                        " AB:CD\n\x01\xff\x1b[2J " + fp + "\n127.0.0.1:" + chat.proxy->port() +
                        " " + fp + "\n" + std::string(1 << 21, 'x'));
  PipedClient bot({"--tls", "bot", "127.0.0.1", chat.proxy->port()}, {xdg_env(home)});
  bot.write_stdin("still works\n");
  bot.close_stdin();
  EXPECT_EQ(bot.read_all_stdout(), "*** bot has joined lobby\nbot: still works\n");
  EXPECT_EQ(bot.wait_exit(), 0);
  const std::string err = bot.read_all_stderr();
  for (int line = 1; line <= 4; ++line) {
    EXPECT_NE(err.find(known + ":" + std::to_string(line) + ": "), std::string::npos)
        << line << "\n"
        << err;
  }
  EXPECT_NE(err.find("the rest is ignored"), std::string::npos) << err;
  EXPECT_EQ(err.find('\x1b'), std::string::npos) << "a bad line is named, not echoed";
}

TEST(ClientTls, StalledHandshakeEndsWithATimeoutNotAHang) {
  Peer stall({"stall"});
  ASSERT_FALSE(stall.port().empty());
  TempDir home;
  PipedClient bot({"--tls", "--connect-timeout", "1", "bot", "127.0.0.1", stall.port()},
                  {xdg_env(home)});
  EXPECT_EQ(bot.wait_exit(), 69);
  EXPECT_NE(bot.read_all_stderr().find("timed out"), std::string::npos);
  // A plain chat server is not a TLS one: a clear error, not a hang.
  std::string error;
  auto chatd = ChatdProcess::start(chatd_config(), error);
  ASSERT_TRUE(chatd) << error;
  PipedClient wrong(
      {"--tls", "--connect-timeout", "2", "bot", "127.0.0.1", std::to_string(chatd->port())},
      {xdg_env(home)});
  EXPECT_EQ(wrong.wait_exit(), 69);
  EXPECT_NE(wrong.read_all_stderr().find("TLS handshake with 127.0.0.1"), std::string::npos);
}

TEST(ClientTls, ReconnectsOverTlsAfterTheConnectionDrops) {
  ASSERT_TRUE(certs().ok);
  TlsChat chat(certs().self, certs().self_key);
  ASSERT_TRUE(chat.ok());
  TempDir home;
  fs::create_directories(home / "chat_client");
  write_file(home / "chat_client/known_servers",
             "127.0.0.1:" + chat.proxy->port() + " " + openssl_fingerprint(certs().self) + "\n");
  PtyClient pat({"--tls", "pat", "127.0.0.1", chat.proxy->port()}, kRows, kCols, {xdg_env(home)});
  ASSERT_TRUE(pat.wait_text("*** pat has joined lobby")) << pat.dump();
  chat.proxy->command("DROP");
  ASSERT_TRUE(pat.wait_text("*** reconnected to 127.0.0.1")) << pat.dump();
  TestClient chris = plain_member(chat.chatd->port(), "chris");
  pat.type("back again\r");
  const auto got = next_chat(chris, "pat");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->get("message"), "back again");
  pat.type("/q\r");
  EXPECT_EQ(pat.wait_exit(), 0);
}

// ---- passwords -------------------------------------------------------------

struct PasswordFile {
  explicit PasswordFile(const std::string& text, mode_t mode = 0600) {
    path = dir / "pw";
    write_file(path, text);
    ::chmod(path.c_str(), mode);
  }
  TempDir dir;
  std::string path;
};

TEST(ClientPassword, SentInHelloOverTlsAndTheNickIsAccepted) {
  ASSERT_TRUE(certs().ok);
  Peer server(
      {"auth", "--cert", certs().srv, "--key", certs().srv_key, "--password", "open sesame"});
  ASSERT_FALSE(server.port().empty());
  PasswordFile pw("open sesame\nsecond line is ignored\n");
  TempDir home;
  PipedClient bot({"--tls", "--ca-file", certs().ca, "--password-file", pw.path, "--log-file",
                   home / "log", "bot", "127.0.0.1", server.port()},
                  {xdg_env(home)});
  bot.write_stdin("in\n");
  bot.close_stdin();
  EXPECT_EQ(bot.read_all_stdout(), "*** bot has joined the chat\nbot: in\n");
  EXPECT_EQ(bot.wait_exit(), 0);
  const auto hello = server.line("HELLO ");
  ASSERT_TRUE(hello);
  EXPECT_NE(hello->find("\"password\": \"open sesame\""), std::string::npos) << *hello;
  EXPECT_EQ(read_file(home / "log").find("sesame"), std::string::npos);
  EXPECT_EQ(bot.read_all_stderr().find("sesame"), std::string::npos);
}

TEST(ClientPassword, NeverSentOverPlainTcpUnlessAllowed) {
  Peer server({"auth", "--plain", "--password", "pw1"});
  ASSERT_FALSE(server.port().empty());
  PasswordFile pw("pw1\n");
  PipedClient refused({"--password-file", pw.path, "bot", "127.0.0.1", server.port()});
  refused.close_stdin();
  EXPECT_EQ(refused.wait_exit(), 64);
  EXPECT_NE(refused.read_all_stderr().find("not sending the password"), std::string::npos);
  EXPECT_FALSE(server.line("HELLO ", std::chrono::milliseconds(300))) << "nothing was sent";
  PipedClient allowed({"--password-file", pw.path, "--allow-plaintext-password", "bot", "127.0.0.1",
                       server.port()});
  allowed.write_stdin("plain\n");
  allowed.close_stdin();
  EXPECT_EQ(allowed.read_all_stdout(), "*** bot has joined the chat\nbot: plain\n");
  EXPECT_EQ(allowed.wait_exit(), 0);
  EXPECT_NE(allowed.read_all_stderr().find("unencrypted"), std::string::npos);
  const auto hello = server.line("HELLO ");
  ASSERT_TRUE(hello);
  EXPECT_NE(hello->find("\"password\": \"pw1\""), std::string::npos) << *hello;
}

TEST(ClientPassword, AFileOthersMayReadIsRefused) {
  PasswordFile open("secret\n", 0644);
  PipedClient bot({"--tls", "--password-file", open.path, "bot", "127.0.0.1", "1"});
  bot.close_stdin();
  EXPECT_EQ(bot.wait_exit(), 66);
  const std::string err = bot.read_all_stderr();
  EXPECT_NE(err.find("chmod 600"), std::string::npos) << err;
  EXPECT_EQ(err.find("secret"), std::string::npos) << err;
  PasswordFile empty("\n");
  PipedClient bot2({"--tls", "--password-file", empty.path, "bot", "127.0.0.1", "1"});
  bot2.close_stdin();
  EXPECT_EQ(bot2.wait_exit(), 66);
  PipedClient bot3({"--tls", "--password-file", "/nonexistent/pw", "bot", "127.0.0.1", "1"});
  bot3.close_stdin();
  EXPECT_EQ(bot3.wait_exit(), 66);
}

TEST(ClientPassword, AuthFailedAsksWithoutEchoAndConnectsAgainWithThePassword) {
  ASSERT_TRUE(certs().ok);
  Peer server({"auth", "--cert", certs().srv, "--key", certs().srv_key, "--password", "hunter2"});
  ASSERT_FALSE(server.port().empty());
  TempDir home;
  PtyClient pat({"--tls", "--ca-file", certs().ca, "--log-file", home / "log", "pat", "127.0.0.1",
                 server.port()},
                kRows, kCols, {xdg_env(home)});
  ASSERT_TRUE(pat.wait_text("pat is registered: type its password")) << pat.dump();
  const auto first = server.line("HELLO ");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->find("password"), std::string::npos) << *first;
  pat.type("hunter2\r");
  ASSERT_TRUE(pat.wait_text("*** pat has joined the chat")) << pat.dump();
  const auto second = server.line("HELLO ");
  ASSERT_TRUE(second);
  EXPECT_NE(second->find("\"password\": \"hunter2\""), std::string::npos) << *second;
  pat.type("welcome back\r");
  EXPECT_TRUE(pat.wait_text("pat: welcome back")) << pat.dump();
  pat.type("/q\r");
  EXPECT_EQ(pat.wait_exit(), 0);
  EXPECT_EQ(pat.raw().find("hunter2"), std::string::npos) << "the password was echoed";
  EXPECT_EQ(read_file(home / "log").find("hunter2"), std::string::npos) << "logged";
}

TEST(ClientPassword, AWrongTypedPasswordIsAskedOnlyOnce) {
  ASSERT_TRUE(certs().ok);
  Peer server({"auth", "--cert", certs().srv, "--key", certs().srv_key, "--password", "right"});
  ASSERT_FALSE(server.port().empty());
  TempDir home;
  PtyClient pat({"--tls", "--ca-file", certs().ca, "pat", "127.0.0.1", server.port()}, kRows, kCols,
                {xdg_env(home)});
  ASSERT_TRUE(pat.wait_text("type its password")) << pat.dump();
  pat.type("wrong\r");
  EXPECT_EQ(pat.wait_exit(), 76) << pat.dump();
  EXPECT_TRUE(server.line("HELLO "));
  EXPECT_TRUE(server.line("HELLO "));
}

TEST(ClientPassword, PipeModeDoesNotAskAndSaysWhy) {
  ASSERT_TRUE(certs().ok);
  Peer server({"auth", "--cert", certs().srv, "--key", certs().srv_key, "--password", "x"});
  ASSERT_FALSE(server.port().empty());
  PipedClient bot({"--tls", "--ca-file", certs().ca, "bot", "127.0.0.1", server.port()});
  bot.write_stdin("x\n");
  bot.close_stdin();
  EXPECT_EQ(bot.wait_exit(), 76);
  EXPECT_NE(bot.read_all_stderr().find("--password-file"), std::string::npos);
}

TEST(ClientPassword, ConfigFileKeysTurnOnTlsAndThePassword) {
  ASSERT_TRUE(certs().ok);
  Peer server({"auth", "--cert", certs().srv, "--key", certs().srv_key, "--password", "cfgpw"});
  ASSERT_FALSE(server.port().empty());
  PasswordFile pw("cfgpw\n");
  TempDir home;
  fs::create_directories(home / "chat_client");
  write_file(home / "chat_client/config",
             "tls = true\nca-file = \"" + certs().ca + "\"\npassword-file = \"" + pw.path + "\"\n");
  PipedClient bot({"bot", "127.0.0.1", server.port()}, {xdg_env(home)});
  bot.write_stdin("configured\n");
  bot.close_stdin();
  EXPECT_EQ(bot.read_all_stdout(), "*** bot has joined the chat\nbot: configured\n");
  EXPECT_EQ(bot.wait_exit(), 0);
}

}  // namespace
}  // namespace chat::test
