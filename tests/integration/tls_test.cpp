// chatd's TLS listener against independent TLS peers: Python's ssl module and
// `openssl s_client` (tests/interop/tls_peer.py), beside plain clients, on both
// event loops. Certificates are made by each test with the openssl CLI.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/py_peer.hpp"
#include "tests/support/chatd_process.hpp"
#include "tests/support/subprocess.hpp"
#include "tests/support/test_client.hpp"

#ifndef CHATD_PATH
#error "CHATD_PATH must name the chatd binary"
#endif

namespace chat::test {
namespace {

// A tool run to completion: its exit code (nullopt if it did not start, did not
// finish in time or was killed), with stdout and stderr together in `output`.
std::optional<int> run_tool(const std::vector<std::string>& argv, std::string& output) {
  const auto r = chat::test::run_process(argv);
  output = r.output();
  if (r.exit_code < 0 || r.exit_code >= 128) {
    return std::nullopt;
  }
  return r.exit_code;
}

using Clock = std::chrono::steady_clock;
const std::string kPython = PYTHON3_PATH;
const std::string kPeer = std::string(INTEROP_DIR) + "/tls_peer.py";

// A listening TCP socket on 127.0.0.1 with a kernel-chosen port.
UniqueFd listen_any(std::uint16_t& port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (!fd || ::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(fd.get(), 128) != 0 ||
      ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    return {};
  }
  port = ntohs(a.sin_port);
  return fd;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::trunc) << text;
}

// "sha256 Fingerprint=AB:CD:..." as lowercase hex without colons.
std::string cert_fingerprint(const std::string& pem) {
  std::string out;
  const auto status =
      run_tool({"openssl", "x509", "-in", pem, "-noout", "-fingerprint", "-sha256"}, out);
  EXPECT_TRUE(status && *status == 0) << out;
  std::string hex;
  const auto eq = out.find('=');
  for (std::size_t i = eq == std::string::npos ? out.size() : eq + 1; i < out.size(); ++i) {
    if (std::isxdigit(static_cast<unsigned char>(out[i])) != 0) {
      hex += static_cast<char>(std::tolower(static_cast<unsigned char>(out[i])));
    }
  }
  return hex;
}

class TlsTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/chatd-tls-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    make_cert("cert.pem", "key.pem", "localhost");
  }

  void TearDown() override {
    if (chatd_ && !chatd_->exited()) {
      // sd_notify blocks once the notify socket's queue (10 datagrams) is full:
      // empty it, as systemd would.
      chatd_->notifications();
      const auto status = chatd_->terminate();
      EXPECT_TRUE(status.has_value()) << "chatd did not exit after SIGTERM";
      EXPECT_TRUE(status && *status == 0) << ChatdProcess::describe_status(status.value_or(-1));
    }
    if (HasFailure() && chatd_) {
      std::cerr << "---- chatd output (" << GetParam() << ") ----\n"
                << chatd_->log() << "---- end ----\n";
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::string path(const std::string& name) const { return dir_ + "/" + name; }

  // A self-signed P-256 certificate for localhost and 127.0.0.1.
  void make_cert(const std::string& cert, const std::string& key, const std::string& cn) {
    std::string out;
    const auto status = run_tool(
        {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-days", "2", "-subj", "/CN=" + cn, "-addext",
         "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", path(key), "-out", path(cert)},
        out);
    ASSERT_TRUE(status && *status == 0) << out;
  }

  // chatd with a plain listener (port()) and a TLS one (tls_port_) handed over
  // the systemd way, named "chat" and "chat-tls".
  void start_chatd(std::vector<std::string> args = {}, bool control = false) {
    tls_listener_ = listen_any(tls_port_);
    ASSERT_TRUE(tls_listener_);
    ChatdConfig config;
    config.binary = CHATD_PATH;
    config.event_loop = GetParam();
    config.disable_control_socket = !control;
    config.args = {"--tls-cert=" + path("cert.pem"), "--tls-key=" + path("key.pem")};
    config.args.insert(config.args.end(), args.begin(), args.end());
    config.extra_fds = {{tls_listener_.get(), "chat-tls"}};
    std::string error;
    chatd_ = ChatdProcess::start(config, error);
    ASSERT_NE(chatd_, nullptr) << error;
  }

  std::uint16_t port() const { return chatd_->port(); }

  PyPeer peer(const std::string& mode, const std::string& nick) {
    std::string error;
    std::vector<std::string> argv{kPython, kPeer, mode, std::to_string(tls_port_)};
    if (!nick.empty()) {
      argv.push_back(path("cert.pem"));
      argv.push_back(nick);
    }
    PyPeer p{mode + ":" + nick, Subprocess::spawn(argv, error), {}};
    EXPECT_NE(p.process, nullptr) << error;
    return p;
  }

  // The SHA-256 of the certificate a new TLS connection is shown.
  std::string served_fingerprint() {
    PyPeer p = peer("fingerprint", "");
    const auto line = p.process->read_line();
    EXPECT_TRUE(line.has_value()) << p.process->stderr_text();
    return line.value_or("");
  }

  TestClient join(const std::string& nick) {
    std::string error;
    TestClient c = join_as(port(), nick, error);
    EXPECT_TRUE(c) << error;
    return c;
  }

  bool log_has(const std::string& text, std::chrono::milliseconds timeout = kPatience) {
    const auto end = Clock::now() + timeout;
    do {
      chatd_->notifications();  // see TearDown
      if (chatd_->log().find(text) != std::string::npos) {
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    } while (Clock::now() < end);
    return false;
  }

  std::string dir_;
  UniqueFd tls_listener_;
  std::uint16_t tls_port_ = 0;
  std::unique_ptr<ChatdProcess> chatd_;
};

std::string chat_payload(const std::string& nick, const std::string& message) {
  return R"({"type":"chat","nick":)" + json_string(nick) + R"(,"message":)" + json_string(message) +
         "}";
}
std::string join_payload(const std::string& nick) {
  return R"({"type":"join","nick":)" + json_string(nick) + "}";
}

::testing::AssertionResult receives(TestClient& c, const std::string& payload) {
  const auto p = c.recv_packet();
  if (!p) {
    return ::testing::AssertionFailure() << "nothing received; expected " << payload;
  }
  if (p->raw != payload) {
    return ::testing::AssertionFailure() << "received " << p->raw << ", expected " << payload;
  }
  return ::testing::AssertionSuccess();
}

// A plain client, a Python ssl client and an `openssl s_client` chat with each
// other in every direction; each sees the exact frames.
TEST_P(TlsTest, PythonAndSClientChatWithPlainClient) {
  start_chatd();
  TestClient plain = join("plain");
  PyPeer py = peer("chat", "py");
  ASSERT_TRUE(py.next("ready"));
  ASSERT_TRUE(py.next(join_payload("py")));
  ASSERT_TRUE(receives(plain, join_payload("py")));

  PyPeer sc = peer("sclient", "sc");
  ASSERT_TRUE(sc.next("ready"));
  ASSERT_TRUE(sc.next(join_payload("sc")));
  ASSERT_TRUE(receives(plain, join_payload("sc")));
  ASSERT_TRUE(py.next(join_payload("sc")));

  ASSERT_TRUE(py.say("over TLS from python"));
  ASSERT_TRUE(receives(plain, chat_payload("py", "over TLS from python")));
  ASSERT_TRUE(py.next(chat_payload("py", "over TLS from python")));
  ASSERT_TRUE(sc.next(chat_payload("py", "over TLS from python")));

  ASSERT_TRUE(sc.say("über s_client"));
  ASSERT_TRUE(receives(plain, chat_payload("sc", "über s_client")));
  ASSERT_TRUE(py.next(chat_payload("sc", "über s_client")));
  ASSERT_TRUE(sc.next(chat_payload("sc", "über s_client")));

  ASSERT_TRUE(plain.send_chat("plain to both"));
  ASSERT_TRUE(receives(plain, chat_payload("plain", "plain to both")));
  ASSERT_TRUE(py.next(chat_payload("plain", "plain to both")));
  ASSERT_TRUE(sc.next(chat_payload("plain", "plain to both")));

  // A burst larger than one TLS record (16 KiB) arrives whole and in order.
  const std::string big(3000, 'x');
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(plain.send_chat(std::to_string(i) + big));
  }
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(py.next(chat_payload("plain", std::to_string(i) + big)));
  }
  py.process->close_stdin();  // close_notify
  std::vector<Packet> seen;
  bool left = false;
  for (int i = 0; i < 30 && !left; ++i) {
    const auto p = plain.recv_packet();
    ASSERT_TRUE(p.has_value());
    left = p->type == "leave" && p->get("nick") == "py";
  }
  EXPECT_TRUE(left);
  EXPECT_TRUE(log_has("event=join session=2 nick=py"));
}

// TLS 1.0/1.1 get a handshake failure (protocol_version alert) at once, not a timeout.
TEST_P(TlsTest, OldTlsVersionsRefused) {
  start_chatd({"--hello-timeout=30"});
  const auto start = Clock::now();
  PyPeer old = peer("old", "");
  const auto line = old.process->read_line();
  ASSERT_TRUE(line.has_value()) << old.process->stderr_text();
  EXPECT_EQ(line->rfind("refused ", 0), 0U) << *line;
  EXPECT_NE(line->find("protocol version"), std::string::npos) << *line;
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(10));

  std::string out;
  const auto status = run_tool({"openssl", "s_client", "-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0",
                                "-connect", "127.0.0.1:" + std::to_string(tls_port_)},
                               out);
  ASSERT_TRUE(status.has_value()) << "s_client -tls1_1 did not finish: " << out;
  EXPECT_TRUE(*status != 0) << out;
  EXPECT_NE(out.find("alert protocol version"), std::string::npos) << out;
  EXPECT_TRUE(log_has("unsupported protocol"));
}

// A TLS client that connects and says nothing, and one that sends half a
// ClientHello, are closed at the hello timeout; a bystander's echo is unaffected.
TEST_P(TlsTest, StalledHandshakeClosedAtHelloTimeout) {
  start_chatd({"--hello-timeout=1.5"});
  TestClient a = join("a");
  const auto start = Clock::now();
  TestClient silent = TestClient::connect(tls_port_);
  ASSERT_TRUE(silent);
  PyPeer half = peer("partial", "");
  ASSERT_TRUE(half.process->read_line().has_value());
  // The bystander chats meanwhile: each echo comes back promptly.
  int echoes = 0;
  while (Clock::now() - start < std::chrono::milliseconds(1200)) {
    const auto sent = Clock::now();
    ASSERT_TRUE(a.send_chat("ping " + std::to_string(echoes)));
    ASSERT_TRUE(receives(a, chat_payload("a", "ping " + std::to_string(echoes))));
    EXPECT_LT(Clock::now() - sent, std::chrono::milliseconds(500));
    ++echoes;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::vector<Packet> before;
  const auto end = silent.read_until_closed(before);
  const auto elapsed = Clock::now() - start;
  EXPECT_TRUE(end == TestClient::Status::kEof || end == TestClient::Status::kReset)
      << status_name(end);
  EXPECT_TRUE(before.empty());
  EXPECT_GE(elapsed, std::chrono::milliseconds(1400));
  EXPECT_LT(elapsed, std::chrono::milliseconds(3000));  // not hello timeout + close linger
  const auto closed = half.process->read_line();
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->rfind("closed ", 0), 0U) << *closed;
  EXPECT_GE(std::stod(closed->substr(7)), 1.2) << *closed;
  EXPECT_TRUE(log_has("event=tls-handshake-timeout"));
  ASSERT_TRUE(a.send_chat("still here"));
  EXPECT_TRUE(receives(a, chat_payload("a", "still here")));
}

// The chat protocol in plain text, garbage, and a flood of garbage on the TLS
// port: each connection is closed (handshake failure), chatd carries on.
TEST_P(TlsTest, PlaintextAndGarbageOnTlsPort) {
  start_chatd({"--hello-timeout=30"});
  PyPeer py = peer("chat", "py");
  ASSERT_TRUE(py.next("ready"));
  ASSERT_TRUE(py.next(join_payload("py")));
  const std::vector<std::string> inputs{
      frame(hello_json("sneaky")), "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
      std::string("\x16\x03\x01\xff\xff", 5) + std::string(2000, '\x01'),
      std::string(200000, '\x16')};
  for (const auto& bytes : inputs) {
    TestClient c = TestClient::connect(tls_port_);
    ASSERT_TRUE(c);
    const auto start = Clock::now();
    (void)c.send_raw(bytes, std::chrono::milliseconds(3000));  // may be cut off by the close
    std::vector<Packet> got;
    const auto end = c.read_until_closed(got, std::chrono::milliseconds(8000));
    EXPECT_TRUE(end == TestClient::Status::kEof || end == TestClient::Status::kReset ||
                end == TestClient::Status::kBadFrame)
        << status_name(end) << " after " << bytes.size() << " bytes";
    EXPECT_LT(Clock::now() - start, std::chrono::seconds(10));
  }
  EXPECT_TRUE(log_has("event=tls-error"));
  EXPECT_EQ(chatd_->log().find("nick=sneaky"), std::string::npos);
  ASSERT_TRUE(py.say("unharmed"));
  EXPECT_TRUE(py.next(chat_payload("py", "unharmed")));
}

// A TLS client that stops reading while others flood is dropped like a plain one.
TEST_P(TlsTest, SlowTlsReaderDropped) {
  start_chatd({"--sendq-limit=65537", "--flood-rate=0", "--flood-bytes-rate=0"});
  TestClient writer = join("writer");
  PyPeer slow = peer("stall", "slow");
  ASSERT_TRUE(slow.next("ready"));
  ASSERT_TRUE(receives(writer, join_payload("slow")));
  const std::string text(1000, 'f');
  bool dropped = false;
  std::size_t sent = 0;
  while (!dropped && sent < 16U * 1024 * 1024) {
    ASSERT_TRUE(writer.send_chat(text));
    sent += text.size();
    while (auto p = writer.recv_packet(std::chrono::milliseconds(sent % 64000 == 0 ? 50 : 0))) {
      if (p->type == "leave" && p->get("nick") == "slow") {
        dropped = true;
        break;
      }
    }
  }
  EXPECT_TRUE(dropped) << "not dropped after " << sent << " bytes";
  EXPECT_TRUE(log_has("event=slow-consumer"));
  slow.process->close_stdin();
  ASSERT_TRUE(writer.send_chat("after"));
  bool echoed = false;
  while (auto p = writer.recv_packet()) {
    if (p->raw == chat_payload("writer", "after")) {
      echoed = true;
      break;
    }
  }
  EXPECT_TRUE(echoed);
}

// SIGHUP: a new certificate for new connections while an existing TLS session
// keeps chatting; a bad one is refused, logged naming the file, the old kept.
TEST_P(TlsTest, ReloadCertificateDuringTraffic) {
  make_cert("cert2.pem", "key2.pem", "localhost");
  start_chatd();
  const std::string fp1 = cert_fingerprint(path("cert.pem"));
  const std::string fp2 = cert_fingerprint(path("cert2.pem"));
  ASSERT_NE(fp1, fp2);
  ASSERT_EQ(served_fingerprint(), fp1);
  TestClient plain = join("plain");
  PyPeer py = peer("chat", "py");
  ASSERT_TRUE(py.next("ready"));
  ASSERT_TRUE(py.next(join_payload("py")));
  ASSERT_TRUE(receives(plain, join_payload("py")));

  const std::string old_cert = read_file(path("cert.pem"));
  write_file(path("cert.pem"), read_file(path("cert2.pem")));
  write_file(path("key.pem"), read_file(path("key2.pem")));
  ASSERT_TRUE(chatd_->signal(SIGHUP));
  ASSERT_TRUE(py.say("during reload"));
  ASSERT_TRUE(log_has("event=tls-reloaded"));
  EXPECT_TRUE(receives(plain, chat_payload("py", "during reload")));
  EXPECT_TRUE(py.next(chat_payload("py", "during reload")));
  EXPECT_EQ(served_fingerprint(), fp2);
  ASSERT_TRUE(plain.send_chat("after reload"));
  EXPECT_TRUE(py.next(chat_payload("plain", "after reload")));
  EXPECT_TRUE(receives(plain, chat_payload("plain", "after reload")));

  // A broken certificate: logged with its name, the running one stays.
  write_file(path("cert.pem"), "-----BEGIN CERTIFICATE-----\nnot base64\n");
  ASSERT_TRUE(chatd_->signal(SIGHUP));
  ASSERT_TRUE(log_has("event=tls-reload-failed"));
  EXPECT_NE(chatd_->log().find("cannot load the TLS certificate " + path("cert.pem")),
            std::string::npos);
  EXPECT_EQ(served_fingerprint(), fp2);
  ASSERT_TRUE(py.say("still up"));
  EXPECT_TRUE(receives(plain, chat_payload("py", "still up")));
}

#ifdef CHATCTL_PATH
// chatctl status counts TLS and plain clients and shows the certificate's
// expiry; chatctl who marks each user's transport (--json: a boolean).
TEST_P(TlsTest, ChatctlShowsTransport) {
  start_chatd({"--control-socket=@DIR@/ctl"}, true);
  const std::string ctl = chatd_->dir() + "/ctl";
  TestClient plain = join("plainuser");
  PyPeer py = peer("chat", "tlsuser");
  ASSERT_TRUE(py.next("ready"));
  ASSERT_TRUE(py.next(join_payload("tlsuser")));
  ASSERT_TRUE(receives(plain, join_payload("tlsuser")));
  std::string not_after;
  ASSERT_TRUE(
      run_tool({"openssl", "x509", "-in", path("cert.pem"), "-noout", "-enddate"}, not_after));
  std::string out;
  auto status = run_tool({CHATCTL_PATH, "--socket", ctl, "--json", "status"}, out);
  ASSERT_TRUE(status && *status == 0) << out;
  EXPECT_NE(out.find(R"("tls_clients":1)"), std::string::npos) << out;
  EXPECT_NE(out.find(R"("plain_clients":1)"), std::string::npos) << out;
  EXPECT_NE(out.find(R"("tls_cert_expires":")"), std::string::npos) << out;
  status = run_tool({CHATCTL_PATH, "--socket", ctl, "status"}, out);
  ASSERT_TRUE(status && *status == 0) << out;
  EXPECT_NE(out.find("(1 TLS, 1 plain)"), std::string::npos) << out;
  EXPECT_NE(out.find("TLS cert:"), std::string::npos) << out;
  // The year of the certificate's notAfter (openssl: "notAfter=Dec  7 09:00:00 2026 GMT").
  const auto gmt = not_after.find(" GMT");
  ASSERT_NE(gmt, std::string::npos) << not_after;
  EXPECT_NE(out.find("expires " + not_after.substr(gmt - 4, 4) + "-"), std::string::npos) << out;

  status = run_tool({CHATCTL_PATH, "--socket", ctl, "--json", "who"}, out);
  ASSERT_TRUE(status && *status == 0) << out;
  const auto tls_at = out.find(R"("nick":"tlsuser")");
  const auto plain_at = out.find(R"("nick":"plainuser")");
  ASSERT_NE(tls_at, std::string::npos) << out;
  ASSERT_NE(plain_at, std::string::npos) << out;
  EXPECT_NE(out.find(R"("tls":true)", tls_at), std::string::npos) << out;
  const std::string plain_user = out.substr(plain_at, out.find('}', plain_at) - plain_at);
  EXPECT_NE(plain_user.find(R"("tls":false)"), std::string::npos) << out;
  status = run_tool({CHATCTL_PATH, "--socket", ctl, "who"}, out);
  ASSERT_TRUE(status && *status == 0) << out;
  EXPECT_NE(out.find(" TLS "), std::string::npos) << out;
  EXPECT_NE(out.find(" yes "), std::string::npos) << out;
  EXPECT_NE(out.find(" no "), std::string::npos) << out;
}
#endif

INSTANTIATE_TEST_SUITE_P(EventLoop, TlsTest, ::testing::Values("select", "epoll"),
                         [](const auto& info) { return info.param; });

// Start-up with a bad certificate or key: exit 78 naming the file; the same
// from --check-config.
class TlsStartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/chatd-tls-start.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    std::string out;
    const auto status =
        run_tool({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                  "-nodes", "-days", "2", "-subj", "/CN=localhost", "-keyout", dir_ + "/key.pem",
                  "-out", dir_ + "/cert.pem"},
                 out);
    ASSERT_TRUE(status && *status == 0) << out;
    run_tool({"openssl", "genpkey", "-algorithm", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
              "-out", dir_ + "/other.pem"},
             out);
    write_file(dir_ + "/garbage.pem", "hello\n");
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // chatd on two free ports; its exit status and output.
  int run_chatd(const std::string& cert, const std::string& key, std::string& out,
                bool check_config = false) {
    std::uint16_t p1 = 0;
    std::uint16_t p2 = 0;
    {
      UniqueFd a = listen_any(p1);
      UniqueFd b = listen_any(p2);
    }
    std::vector<std::string> argv{CHATD_PATH,           "--config=" + dir_ + "/none.conf",
                                  "--control-socket=",  "--tls-port=" + std::to_string(p2),
                                  "--tls-cert=" + cert, "--tls-key=" + key,
                                  std::to_string(p1)};
    write_file(dir_ + "/none.conf", "");
    if (check_config) {
      argv.emplace_back("--check-config");
    }
    const auto status = run_tool(argv, out);
    if (!status) {
      return -1;
    }
    return *status;
  }
  std::string dir_;
};

TEST_F(TlsStartTest, BadCertificateOrKeyExits78NamingTheFile) {
  struct Case {
    std::string cert, key, named;
  };
  const std::vector<Case> cases{
      {dir_ + "/garbage.pem", dir_ + "/key.pem", dir_ + "/garbage.pem"},
      {dir_ + "/missing.pem", dir_ + "/key.pem", dir_ + "/missing.pem"},
      {dir_ + "/cert.pem", dir_ + "/garbage.pem", dir_ + "/garbage.pem"},
      {dir_ + "/cert.pem", dir_ + "/nokey.pem", dir_ + "/nokey.pem"},
      {dir_ + "/cert.pem", dir_ + "/other.pem", dir_ + "/other.pem"},  // does not match
  };
  for (const bool check : {false, true}) {
    for (const auto& c : cases) {
      std::string out;
      EXPECT_EQ(run_chatd(c.cert, c.key, out, check), 78) << c.cert << " " << c.key << ": " << out;
      EXPECT_NE(out.find(c.named), std::string::npos) << out;
    }
  }
  std::string out;
  EXPECT_EQ(run_chatd(dir_ + "/cert.pem", dir_ + "/key.pem", out, true), 0) << out;
}

}  // namespace
}  // namespace chat::test
