// Stateful fuzzer of the composed daemon: the real Server, Hub and Sessions on a
// real event loop, clients on socketpairs, a fake clock. The input is a program:
// each step opens, feeds, reads, stalls or closes a client, acts as the operator,
// or moves the clock; after every step the invariants below are checked, and a
// violation aborts (a finding).
//
// Invariants:
//   - every queued frame is 3..65 537 bytes; every frame a client receives is
//     non-empty and decodes as a server packet;
//   - each session's queued_bytes equals its queue; the server's unparsed-input
//     count equals the sessions' buffers; the accounted memory stays within the
//     budget after every iteration;
//   - every hub member has a session; joined nicks are unique by nick_key;
//   - progress: once every client reads, every open session's queue empties.
//
// Ops (one byte each, then their arguments): see `step` below. Seeds in
// tests/fuzz/corpus/daemon are the issue's attacks in this form. Other nodes
// speak too: a Redis engine (never connected) hands the hub what it receives
// from the subscription (envelopes, batches, raw bytes), so the invariants also
// hold for whatever another node or a hand-written PUBLISH sends.
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "daemon/event_loop.hpp"
#include "daemon/redis_engine.hpp"
#include "daemon/server.hpp"
#include "protocol/codec.hpp"
#include "protocol/frame.hpp"
#include "protocol/rules.hpp"

namespace {

using chat::UniqueFd;
using namespace chat::daemon;
namespace proto = chat::proto;

constexpr std::size_t kMaxClients = 8;
constexpr int kMaxSteps = 256;

[[noreturn]] void finding(const char* what) {
  std::fprintf(stderr, "fuzz_daemon: invariant broken: %s\n", what);
  std::abort();
}

class Input {
 public:
  Input(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  bool more() const { return pos_ < size_; }
  std::uint8_t byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  std::uint16_t u16() { return static_cast<std::uint16_t>((byte() << 8) | byte()); }
  std::string take(std::size_t n) {
    n = std::min(n, size_ - pos_);
    std::string out(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return out;
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

struct Client {
  UniqueFd fd;
  proto::FrameDecoder received;
  bool reads = true;
  bool open = true;
};

std::string framed(const std::string& payload) {
  std::string out;
  out.push_back(static_cast<char>((payload.size() >> 8) & 0xff));
  out.push_back(static_cast<char>(payload.size() & 0xff));
  out += payload;
  return out;
}

// Nicks and rooms from a small alphabet so collisions and look-alikes happen.
std::string name(Input& in) {
  static const std::array<const char*, 12> kNames = {"pat",
                                                     "PAT",
                                                     "chris",
                                                     "p\xd0\xb0t",
                                                     "pat\xe2\x80\x8b",
                                                     "\xef\xbd\x90\xef\xbd\x81\xef\xbd\x94",
                                                     "lobby",
                                                     "dev",
                                                     "x",
                                                     "\xe7\x8e\x8b",
                                                     "a b",
                                                     "***"};
  const std::uint8_t b = in.byte();
  if (b < 200) {
    return kNames[b % kNames.size()];
  }
  return std::string(1 + in.byte() % 40, static_cast<char>('a' + b % 26));  // may break rules
}

std::string text(Input& in) {
  const std::uint8_t kind = in.byte();
  // Near-limit texts are rare: each costs a 64 KB copy per hop, and the limits
  // below are scaled down so ordinary sizes reach them too.
  if (kind >= 250) {
    return std::string(65400 + (kind - 250) * 30, 'm');  // at the frame limit
  }
  switch (kind % 3) {
    case 0:
      return "hi";
    case 1:
      return std::string(1 + in.u16() % 4000, 'w');
    default:
      return in.take(in.byte());  // raw, possibly invalid
  }
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
    }
    out += c;
  }
  return out + "\"";
}

std::string packet(Input& in) {
  switch (in.byte() % 10) {
    case 0:
      return R"({"type":"hello","nick":)" + json_string(name(in)) + "}";
    case 1:
      return R"({"type":"hello","nick":)" + json_string(name(in)) +
             R"(,"caps":["dm","emote","who","rooms","info","history"]})";
    case 2:
      return R"({"type":"chat","message":)" + json_string(text(in)) + "}";
    case 3:
      return R"({"type":"emote","message":)" + json_string(text(in)) + "}";
    case 4: {
      // The one-packet attack's shape: a dm to a huge or odd "nick".
      const std::string to = in.byte() == 255 ? std::string(65490, 'x') : name(in);
      return R"({"type":"dm","to":)" + json_string(to) + R"(,"message":)" + json_string(text(in)) +
             "}";
    }
    case 5:
      return R"({"type":"enter","room":)" + json_string(name(in)) + "}";
    case 6:
      return R"({"type":"who"})";
    case 7:
      return R"({"type":"rooms"})";
    case 8:
      return R"({"type":"shout"})";
    default:
      return in.take(in.byte());
  }
}

// What a node sends to the others: a frame's payload, usually one a node would
// send (with names and texts from above, which may break the rules), sometimes
// not (another server packet type, raw bytes).
std::string node_payload(Input& in) {
  const std::string nick = json_string(name(in));
  switch (in.byte() % 9) {
    case 0:
      return R"({"type":"chat","nick":)" + nick + R"(,"message":)" + json_string(text(in)) + "}";
    case 1:
      return R"({"type":"emote","nick":)" + nick + R"(,"message":)" + json_string(text(in)) + "}";
    case 2:
      return R"({"type":"join","nick":)" + nick + R"(,"room":)" + json_string(name(in)) + "}";
    case 3:
      return R"({"type":"leave","nick":)" + nick + "}";
    case 4:
      return R"({"type":"dm","from":)" + nick + R"(,"to":)" + json_string(name(in)) +
             R"(,"message":)" + json_string(text(in)) + "}";
    case 5:
      return R"({"type":"info","message":)" + json_string(text(in)) + "}";
    case 6:
      return R"({"type":"welcome","nick":)" + nick + "}";
    case 7:
      return "";
    default:
      return in.take(in.byte());
  }
}

// One message from the subscription: an envelope, a batch of them, or raw bytes.
std::string node_message(Input& in) {
  static const std::array<const char*, 9> kKinds = {"ev",   "ev",  "dm",   "join", "part",
                                                    "kick", "say", "line", "reset"};
  const auto envelope = [&in] {
    Envelope e;
    e.origin = (in.byte() & 7) == 0 ? "self" : "other";  // its own are ignored
    e.kind = kKinds[in.byte() % kKinds.size()];
    e.room = name(in);
    e.nick = name(in);
    const std::uint8_t cap = in.byte();
    e.cap = cap < 64 ? 0U : cap < 192 ? 1U << (cap % 8) : cap;  // none, one bit, or bad
    if ((in.byte() & 1) != 0) {
      e.ts = static_cast<std::int64_t>(in.u16()) * 1000000;
    }
    e.native = e.kind == "kick" || e.kind == "say" ? text(in) : node_payload(in);
    if ((in.byte() & 1) != 0) {
      e.fallback = node_payload(in);
    }
    if ((in.byte() & 3) == 0) {
      e.moved = node_payload(in);
    }
    e.seq = in.u16();
    return e.encode();
  };
  switch (in.byte() % 4) {
    case 0:
    case 1:
      return envelope();
    case 2: {
      std::string batch = "2:b1,";
      for (int n = in.byte() % 6; n > 0; --n) {
        const std::string inner = (in.byte() & 7) == 0 ? in.take(in.byte()) : envelope();
        batch += std::to_string(inner.size()) + ":" + inner + ",";
      }
      return batch;
    }
    default:
      return in.take(in.u16() % 2048);
  }
}

void read_client(Client& c) {
  std::array<char, 65536> buf{};
  for (int i = 0; i < 64; ++i) {
    const ssize_t n = ::recv(c.fd.get(), buf.data(), buf.size(), MSG_DONTWAIT);
    if (n <= 0) {
      break;
    }
    c.received.feed(std::string_view(buf.data(), static_cast<std::size_t>(n)));
  }
  std::string_view payload;
  while (true) {
    const auto status = c.received.next(payload);
    if (status == proto::FrameDecoder::Status::kNeedMore) {
      return;
    }
    if (status == proto::FrameDecoder::Status::kEmptyFrame) {
      finding("a client received an empty frame");
    }
    if (!std::holds_alternative<proto::ServerPacket>(proto::decode_server(payload))) {
      finding("a client received a frame that does not decode");
    }
  }
}

void check(const Server& server) {
  std::size_t input = 0;
  std::set<SessionId> ids;
  server.for_each_session([&](const Session& s) {
    ids.insert(s.id());
    std::size_t queued = 0;
    for (const auto& f : s.queued()) {
      if (f.size() < proto::kMinFrame || f.size() > proto::kMaxFrame) {
        finding("a queued frame is empty or oversize");
      }
      queued += f.size();
    }
    if (queued - s.written_of_front() != s.queued_bytes()) {
      finding("queued_bytes does not match the queue");
    }
    input += s.input().buffered();
  });
  if (input != server.input_bytes()) {
    finding("accounted input does not match the sessions' buffers");
  }
  const auto& limits = server.limits();
  if (limits.memory_budget != 0 && server.accounted_bytes() > limits.memory_budget) {
    finding("accounted memory over the budget after an iteration");
  }
  std::set<std::string> nicks;
  for (const auto& m : server.hub().members()) {
    if (ids.count(m.id) == 0) {
      finding("a hub member has no session");
    }
    if (m.joined && !nicks.insert(proto::nick_key(m.nick)).second) {
      finding("two joined members share a nick key");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool once = [] {
    spdlog::set_level(spdlog::level::off);
    ::signal(SIGPIPE, SIG_IGN);
    return true;
  }();
  (void)once;
  Input in(data, size);
  auto loop = EventLoop::create((in.byte() & 1) != 0 ? EventLoop::Backend::kEpoll
                                                     : EventLoop::Backend::kSelect);
  if (!loop) {
    return 0;
  }
  Limits limits;
  limits.hello_timeout = std::chrono::milliseconds(2000);
  // Scaled down (sendq, history, budget, byte burst) so short programs reach them.
  limits.sendq_limit = std::size_t{96} * 1024;
  limits.history = 5;
  limits.history_bytes = std::size_t{24} * 1024;
  limits.memory_budget = std::size_t{256} * 1024;
  limits.flood_bytes_burst = 160.0 * 1024;
  limits.stall_timeout = std::chrono::milliseconds(5000);
  limits.max_per_address = 0;
  std::vector<Client> clients;
  {
    auto now = Server::Clock::now();
    loop->set_clock([&] { return now; });
    Server server(*loop, {}, limits);
    RedisEngineConfig node;
    node.node = "self";
    node.history = {limits.history, limits.history_bytes};
    RedisEngine others(*loop, node);  // never started: only its receiving side is used
    others.attach(&server.hub());
    for (int steps = 0; in.more() && steps < kMaxSteps; ++steps) {
      const std::uint8_t op = in.byte();
      Client* c = clients.empty() ? nullptr : &clients[in.byte() % clients.size()];
      switch (op % 9) {
        case 0: {
          if (clients.size() >= kMaxClients) {
            break;
          }
          int fds[2];
          if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) {
            break;
          }
          const int small = 8192;
          ::setsockopt(fds[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
          server.adopt(UniqueFd(fds[0]));
          clients.push_back(Client{UniqueFd(fds[1]), {}, true, true});
          break;
        }
        case 1:
        case 2:
          if (c != nullptr && c->open) {
            const std::string bytes = framed(packet(in));
            (void)::send(c->fd.get(), bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
          }
          break;
        case 3:
          if (c != nullptr && c->open) {
            const std::string bytes = in.take(in.byte());  // raw: bad lengths, empty frames
            (void)::send(c->fd.get(), bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
          }
          break;
        case 4:
          if (c != nullptr && c->open) {
            if ((in.byte() & 1) != 0) {
              ::shutdown(c->fd.get(), SHUT_WR);
            } else {
              c->fd.reset();
            }
            c->open = false;
          }
          break;
        case 5:
          if (c != nullptr) {
            c->reads = !c->reads;
          }
          break;
        case 6:
          now += std::chrono::milliseconds(in.byte() * 40);
          break;
        case 7:
          if ((in.byte() & 1) != 0) {
            (void)server.hub().kick(name(in), (in.byte() & 1) != 0 ? "" : "because");
          } else {
            const std::string t = text(in);
            if (proto::is_valid_message(t)) {
              (void)server.hub().say(t);
            }
          }
          break;
        default:
          // Another node speaks (see node_message); or one of its users leaves
          // because that node died.
          if ((in.byte() & 3) != 0) {
            others.on_message("chatd:events", node_message(in));
          } else {
            server.hub().remote_left(name(in), name(in));
          }
          break;
      }
      for (auto& client : clients) {
        if (client.open && client.reads) {
          read_client(client);
        }
      }
      if (!server.step(std::chrono::milliseconds(0))) {
        finding("the server stopped");
      }
      check(server);
    }
    // Progress: every client reads now; queues of open sessions must empty.
    for (int i = 0; i < 200; ++i) {
      for (auto& client : clients) {
        if (client.open) {
          read_client(client);
        }
      }
      (void)server.step(std::chrono::milliseconds(0));
      check(server);
      bool queued = false;
      server.for_each_session([&](const Session& s) { queued = queued || s.has_output(); });
      if (!queued && i >= 2) {
        break;  // drained (two more iterations saw the last reads through)
      }
    }
    for (auto& client : clients) {
      if (client.open) {
        read_client(client);
      }
    }
    bool stuck = false;
    server.for_each_session([&](const Session& s) {
      if (s.state() == Session::State::kOpen && s.has_output()) {
        stuck = true;
      }
    });
    if (stuck) {
      finding("an open session kept queued output while its client read");
    }
  }
  if (chat::proto::Frame::live_bytes() != 0) {
    finding("frames outlived the server (leaked or miscounted)");
  }
  return 0;
}
