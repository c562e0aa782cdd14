// The codec's fast paths against the definitions they replace, on generated inputs:
// the JSON writer against RapidJSON's Writer (byte for byte), and decode_client's chat
// fast path against the DOM path (the same packet or the same error, to the letter).
#include <gtest/gtest.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "protocol/codec.hpp"
#include "protocol/frame.hpp"

namespace chat::proto {
namespace {

// ---- the writer as it was: RapidJSON's Writer<StringBuffer> -----------------
using RjWriter = rapidjson::Writer<rapidjson::StringBuffer>;

void rj_put(RjWriter& w, const char* key, std::string_view value) {
  w.Key(key);
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}
void rj_list(RjWriter& w, const char* key, const std::vector<std::string>& list) {
  w.Key(key);
  w.StartArray();
  for (const auto& s : list) {
    w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  }
  w.EndArray();
}
void rj_ts(RjWriter& w, const std::optional<std::int64_t>& ts) {
  if (ts) {
    w.Key("ts");
    w.Int64(*ts);
  }
}
void rj_flag(RjWriter& w, const char* key, bool on) {
  if (on) {
    w.Key(key);
    w.Bool(true);
  }
}

struct RjClient {
  RjWriter& w;
  void operator()(const Hello& p) const {
    rj_put(w, "type", "hello");
    rj_put(w, "nick", p.nick);
    if (p.caps) {
      rj_list(w, "caps", *p.caps);
    }
    if (p.password) {
      rj_put(w, "password", *p.password);
    }
  }
  void operator()(const ChatRequest& p) const {
    rj_put(w, "type", "chat");
    rj_put(w, "message", p.message);
  }
  void operator()(const DmRequest& p) const {
    rj_put(w, "type", "dm");
    rj_put(w, "to", p.to);
    rj_put(w, "message", p.message);
  }
  void operator()(const EmoteRequest& p) const {
    rj_put(w, "type", "emote");
    rj_put(w, "message", p.message);
  }
  void operator()(const WhoRequest&) const { rj_put(w, "type", "who"); }
  void operator()(const EnterRequest& p) const {
    rj_put(w, "type", "enter");
    rj_put(w, "room", p.room);
  }
  void operator()(const RoomsRequest&) const { rj_put(w, "type", "rooms"); }
};

struct RjServer {
  RjWriter& w;
  void operator()(const Welcome& p) const {
    rj_put(w, "type", "welcome");
    rj_put(w, "nick", p.nick);
    rj_put(w, "server", p.server);
    rj_list(w, "caps", p.caps);
    rj_put(w, "room", p.room);
  }
  void operator()(const Chat& p) const {
    rj_put(w, "type", "chat");
    rj_put(w, "nick", p.nick);
    rj_put(w, "message", p.message);
    rj_flag(w, "history", p.history);
    rj_ts(w, p.ts);
  }
  void operator()(const Join& p) const {
    rj_put(w, "type", "join");
    rj_put(w, "nick", p.nick);
    if (p.room) {
      rj_put(w, "room", *p.room);
    }
  }
  void operator()(const Leave& p) const {
    rj_put(w, "type", "leave");
    rj_put(w, "nick", p.nick);
    if (p.room) {
      rj_put(w, "room", *p.room);
    }
    if (p.to) {
      rj_put(w, "to", *p.to);
    }
  }
  void operator()(const Dm& p) const {
    rj_put(w, "type", "dm");
    rj_put(w, "from", p.from);
    rj_put(w, "to", p.to);
    rj_put(w, "message", p.message);
    rj_ts(w, p.ts);
  }
  void operator()(const Emote& p) const {
    rj_put(w, "type", "emote");
    rj_put(w, "nick", p.nick);
    rj_put(w, "message", p.message);
    rj_flag(w, "history", p.history);
    rj_ts(w, p.ts);
  }
  void operator()(const WhoReply& p) const {
    rj_put(w, "type", "who");
    rj_put(w, "room", p.room);
    rj_list(w, "nicks", p.nicks);
    rj_flag(w, "truncated", p.truncated);
  }
  void operator()(const RoomsReply& p) const {
    rj_put(w, "type", "rooms");
    w.Key("rooms");
    w.StartArray();
    for (const auto& r : p.rooms) {
      w.StartObject();
      rj_put(w, "name", r.name);
      w.Key("users");
      w.Uint64(r.users);
      w.EndObject();
    }
    w.EndArray();
    rj_flag(w, "truncated", p.truncated);
  }
  void operator()(const Info& p) const {
    rj_put(w, "type", "info");
    rj_put(w, "message", p.message);
  }
  void operator()(const Error& p) const {
    rj_put(w, "type", "error");
    rj_put(w, "code", p.code);
    rj_put(w, "message", p.message);
  }
};

template <typename Visitor, typename Packet>
std::string rj_encode(const Packet& packet) {
  rapidjson::StringBuffer buf;
  RjWriter w(buf);
  w.StartObject();
  std::visit(Visitor{w}, packet);
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

// ---- generated text ----------------------------------------------------------
// Strings made of the pieces that matter to a JSON writer or reader: plain ASCII runs
// (long and short, to cross the 8-byte scan), every byte that needs an escape, DEL,
// NUL, valid non-ASCII (2, 3, 4 bytes; C1 controls) and invalid UTF-8.
class Gen {
 public:
  explicit Gen(std::uint32_t seed) : rng_(seed) {}
  std::size_t below(std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_);
  }
  bool coin() { return below(2) == 0; }

  std::string text(std::size_t max_pieces = 12) {
    static const std::vector<std::string> kPieces = {"a",
                                                     "hello world",
                                                     "0123456789abcdefghij",
                                                     "\"",
                                                     "\\",
                                                     "/",
                                                     "\b",
                                                     "\f",
                                                     "\n",
                                                     "\r",
                                                     "\t",
                                                     std::string(1, '\0'),
                                                     "\x01",
                                                     "\x1f",
                                                     "\x7f",
                                                     "\xc3\xa9",
                                                     "\xe2\x82\xac",
                                                     "\xf0\x9f\x98\x80",
                                                     "\xc2\x85",
                                                     "\xff",
                                                     "\xc0\x80",
                                                     "\xed\xa0\x80",
                                                     "\xe2\x82",
                                                     "\xf4\x90\x80\x80",
                                                     " ",
                                                     "{}[],:"};
    std::string s;
    const std::size_t pieces = below(max_pieces + 1);
    for (std::size_t i = 0; i < pieces; ++i) {
      if (below(4) == 0) {
        s.push_back(static_cast<char>(below(256)));  // any byte
      } else {
        s += kPieces[below(kPieces.size())];
      }
    }
    return s;
  }
  std::vector<std::string> texts() {
    std::vector<std::string> v(below(4));
    for (auto& s : v) {
      s = text(4);
    }
    return v;
  }
  std::optional<std::string> maybe_text() { return coin() ? std::optional(text()) : std::nullopt; }
  std::optional<std::int64_t> ts() {
    static const std::vector<std::int64_t> kEdges = {0,
                                                     -1,
                                                     1,
                                                     1733400000000,
                                                     std::numeric_limits<std::int64_t>::min(),
                                                     std::numeric_limits<std::int64_t>::max()};
    if (coin()) {
      return std::nullopt;
    }
    return coin() ? kEdges[below(kEdges.size())]
                  : static_cast<std::int64_t>(std::uniform_int_distribution<std::uint64_t>()(rng_));
  }

  ServerPacket server() {
    switch (below(10)) {
      case 0:
        return Welcome{text(), text(), texts(), text()};
      case 1:
        return Chat{text(), text(), coin(), ts()};
      case 2:
        return Join{text(), maybe_text()};
      case 3:
        return Leave{text(), maybe_text(), maybe_text()};
      case 4:
        return Dm{text(), text(), text(), ts()};
      case 5:
        return Emote{text(), text(), coin(), ts()};
      case 6:
        return WhoReply{text(), texts(), coin()};
      case 7: {
        RoomsReply r;
        r.truncated = coin();
        for (std::size_t i = below(4); i > 0; --i) {
          r.rooms.push_back(RoomInfo{text(4), coin() ? std::numeric_limits<std::uint64_t>::max()
                                                     : std::uint64_t{below(100000)}});
        }
        return r;
      }
      case 8:
        return Info{text()};
      default:
        return Error{text(), text()};
    }
  }
  ClientPacket client() {
    switch (below(7)) {
      case 0: {
        Hello h{text(), std::nullopt};
        if (coin()) {
          h.caps = texts();
        }
        if (coin()) {
          h.password = text();
        }
        return h;
      }
      case 1:
        return ChatRequest{text()};
      case 2:
        return DmRequest{text(), text()};
      case 3:
        return EmoteRequest{text()};
      case 4:
        return WhoRequest{};
      case 5:
        return EnterRequest{text()};
      default:
        return RoomsRequest{};
    }
  }

 private:
  std::mt19937 rng_;
};

TEST(CodecEquivalence, WriterMatchesRapidJsonOnEveryPacketType) {
  Gen gen(11);
  for (int i = 0; i < 20000; ++i) {
    const ServerPacket s = gen.server();
    const std::string expected = rj_encode<RjServer>(s);
    ASSERT_EQ(encode(s), expected) << "server packet " << i;
    const auto frame = encode_frame(s);
    if (expected.size() <= kMaxPayload) {
      ASSERT_TRUE(frame.has_value());
      ASSERT_EQ(frame->payload(), expected);
    } else {
      ASSERT_FALSE(frame.has_value());
    }
    const ClientPacket c = gen.client();
    ASSERT_EQ(encode(c), rj_encode<RjClient>(c)) << "client packet " << i;
  }
}

TEST(CodecEquivalence, WriterMatchesRapidJsonOnEverySingleByteAndLongRuns) {
  for (int b = 0; b < 256; ++b) {
    for (std::size_t at = 0; at < 20; ++at) {  // every position in and around an 8-byte word
      std::string text(19, 'x');
      text.insert(at, 1, static_cast<char>(b));
      const ServerPacket p = Chat{"nick", text, false};
      ASSERT_EQ(encode(p), rj_encode<RjServer>(p)) << "byte " << b << " at " << at;
    }
  }
  // Non-ASCII text, then a control character (the case RapidJSON's SSE2 writer missed).
  const ServerPacket after_utf8 = Chat{"n", std::string(40, 'a') + "\xc3\xa9\x01" + "tail", false};
  EXPECT_EQ(encode(after_utf8), rj_encode<RjServer>(after_utf8));
  EXPECT_NE(encode(after_utf8).find("\\u0001"), std::string::npos);
  const ServerPacket big = Chat{"n", std::string(70000, 'z'), false};
  EXPECT_EQ(encode(big), rj_encode<RjServer>(big));
  EXPECT_FALSE(encode_frame(big).has_value()) << "too long for one frame";
}

// ---- decode_client: the chat fast path against the DOM path -------------------
std::string describe(const Decoded<ClientPacket>& d) {
  if (const auto* e = std::get_if<DecodeError>(&d)) {
    return std::string("error ") + std::string(error_name(e->code)) +
           (e->fatal ? " fatal: " : " open: ") + e->message;
  }
  const auto& p = std::get<ClientPacket>(d);
  // encode() is injective on a packet's fields (JSON string escaping is), so equal
  // text means equal packets, to the byte.
  return "packet#" + std::to_string(p.index()) + " " + encode(p);
}

void expect_same(std::string_view payload) {
  ASSERT_EQ(describe(decode_client(payload)), describe(decode_client_dom(payload)))
      << "payload: " << payload;
}

// A JSON string literal of generated content: raw pieces, escapes (valid and not).
std::string json_string(Gen& gen, bool clean = false) {
  static const std::vector<std::string> kEscapes = {"\\\"",
                                                    "\\\\",
                                                    "\\/",
                                                    "\\b",
                                                    "\\f",
                                                    "\\n",
                                                    "\\r",
                                                    "\\t",
                                                    "\\u0041",
                                                    "\\u0000",
                                                    "\\u007f",
                                                    "\\u00e9",
                                                    "\\ud83d\\ude00",
                                                    "\\ud800",
                                                    "\\udc00x",
                                                    "\\x",
                                                    "\\",
                                                    "\\u12",
                                                    "\\U0041"};
  std::string s = "\"";
  static const std::vector<std::string> kClean = {
      "\\\"", "\\\\", "\\/", "\\t", "/", "\x7e", "caf\xc3\xa9", "\xe2\x82\xac", " ", "x"};
  const std::size_t pieces = gen.below(10);
  for (std::size_t i = 0; i < pieces; ++i) {
    if (clean) {  // text a client would send: mostly accepted
      s += gen.below(3) == 0 ? kClean[gen.below(kClean.size())] : "plain ascii text of a chat line";
      continue;
    }
    switch (gen.below(3)) {
      case 0:
        s += kEscapes[gen.below(kEscapes.size())];
        break;
      case 1: {
        std::string raw = gen.text(3);
        // Mostly keep the string closed: drop raw quotes and backslashes two times in three.
        if (gen.below(3) != 0) {
          std::erase(raw, '"');
          std::erase(raw, '\\');
        }
        s += raw;
        break;
      }
      default:
        s += "plain ascii text of a chat line";
    }
  }
  if (clean || gen.below(20) != 0) {
    s += '"';
  }
  return s;
}

// JSON whitespace, or (one time in eight) a character that only looks like it.
std::string ws(Gen& gen) {
  static const std::vector<std::string> kSpace = {"", "", "", " ", "\n", "\r\t ", "  "};
  if (gen.below(8) == 0) {
    return gen.coin() ? "\f" : "\v";
  }
  return kSpace[gen.below(kSpace.size())];
}
std::string json_ws(Gen& gen) {
  static const std::vector<std::string> kSpace = {"", "", "", " ", "\n", "\r\t "};
  return kSpace[gen.below(kSpace.size())];
}

std::string chat_like(Gen& gen) {
  if (gen.coin()) {  // the common shape, with whitespace and member order varied
    std::string type = R"("type")" + json_ws(gen) + ":" + json_ws(gen) + R"("chat")";
    std::string message =
        R"("message")" + json_ws(gen) + ":" + json_ws(gen) + json_string(gen, true);
    if (gen.coin()) {
      std::swap(type, message);
    }
    return json_ws(gen) + "{" + json_ws(gen) + type + json_ws(gen) + "," + json_ws(gen) + message +
           json_ws(gen) + "}" + json_ws(gen);
  }
  static const std::vector<std::string> kTypes = {
      R"("chat")",      R"("chat")",       R"("chat")", R"("cha")", R"("chat ")", R"("Chat")",
      R"("\u0063hat")", R"("chat\u0000")", R"(1)",      R"(null)",  R"("emote")", R"("dm")"};
  static const std::vector<std::string> kTypeKeys = {R"("type")", R"("type")", R"("typ\u0065")",
                                                     R"("Type")", R"("type" )"};
  static const std::vector<std::string> kMessageKeys = {R"("message")", R"("message")",
                                                        R"("messag\u0065")", R"("msg")"};
  std::vector<std::string> members;
  members.push_back(kTypeKeys[gen.below(kTypeKeys.size())] + ws(gen) + ":" + ws(gen) +
                    kTypes[gen.below(kTypes.size())]);
  const std::string message_value =
      gen.below(8) == 0 ? std::string(gen.coin() ? "42" : "[\"a\"]") : json_string(gen);
  members.push_back(kMessageKeys[gen.below(kMessageKeys.size())] + ws(gen) + ":" + ws(gen) +
                    message_value);
  switch (gen.below(8)) {
    case 0:
      members.push_back(R"("message":)" + json_string(gen));  // duplicate message
      break;
    case 1:
      members.push_back(R"("type":"emote")");  // duplicate type
      break;
    case 2:
      members.push_back(R"("to":"bob")");  // an extra member
      break;
    case 3:
      members.pop_back();  // no message
      break;
    default:
      break;
  }
  if (gen.coin()) {
    std::swap(members.front(), members.back());
  }
  std::string s = ws(gen) + "{" + ws(gen);
  for (std::size_t i = 0; i < members.size(); ++i) {
    s += (i == 0 ? "" : "," + ws(gen)) + members[i] + ws(gen);
  }
  switch (gen.below(12)) {
    case 0:
      break;  // no closing brace
    case 1:
      s += "},";
      break;
    case 2:
      s += "}x";
      break;
    case 3:
      s += std::string("}") + '\0';
      break;
    default:
      s += "}" + ws(gen);
  }
  if (gen.below(40) == 0) {
    s.insert(0, "\xef\xbb\xbf");  // a byte-order mark
  }
  return s;
}

TEST(CodecEquivalence, ChatFastPathAgreesWithTheDomOnGeneratedPayloads) {
  Gen gen(2026);
  int chats = 0;
  int errors = 0;
  for (int i = 0; i < 100000; ++i) {
    const std::string payload = chat_like(gen);
    expect_same(payload);
    if (HasFatalFailure()) {
      return;
    }
    const auto d = decode_client(payload);
    (std::holds_alternative<DecodeError>(d) ? errors : chats) += 1;
  }
  // Both answers are common, so both paths and the rules after them are exercised.
  EXPECT_GT(chats, 10000);
  EXPECT_GT(errors, 10000);
}

TEST(CodecEquivalence, ChatFastPathAgreesWithTheDomOnTrickyPayloads) {
  const std::vector<std::string> cases = {
      R"({"type":"chat","message":"hi"})",
      R"({"message":"hi","type":"chat"})",
      " \t\r\n{ \"type\" : \"chat\" , \"message\" : \"hi\" } \n",
      R"({"type":"chat","message":""})",
      R"({"type":"chat","message":"a\nb"})",
      R"({"type":"chat","message":"a\/b\"c\\d"})",
      R"({"type":"chat","message":"tab\there"})",
      R"({"type":"chat","message":"\u0041"})",
      R"({"type":"chat","message":"\u0000"})",
      R"({"type":"chat","message":"\ud800"})",
      R"({"type":"chat","message":"\ud83d\ude00"})",
      "{\"type\":\"chat\",\"message\":\"raw\x01control\"}",
      "{\"type\":\"chat\",\"message\":\"del\x7f\"}",
      "{\"type\":\"chat\",\"message\":\"caf\xc3\xa9\"}",
      "{\"type\":\"chat\",\"message\":\"c1 \xc2\x85\"}",
      "{\"type\":\"chat\",\"message\":\"bad \xff\"}",
      "{\"type\":\"chat\",\"message\":\"surrogate \xed\xa0\x80\"}",
      std::string("{\"type\":\"chat\",\"message\":\"nul\0\"}", 31),
      R"({"type":"chat","message":"a","message":"b"})",
      R"({"type":"chat","type":"emote","message":"a"})",
      R"({"type":"emote","type":"chat","message":"a"})",
      R"({"type":"chat","message":"a","extra":1})",
      R"({"type":"chat","message":"a"}x)",
      R"({"type":"chat","message":"a"}})",
      R"({"type":"chat","message":"a")",
      R"({"type":"chat","message":"a)",
      R"({"type":"chat","message":"a\)",
      R"({"type":"chat","message":"a\q"})",
      R"({"type":"chat","message":42})",
      R"({"type":"chat"})",
      R"({"message":"a"})",
      R"({"type":"chat",})",
      R"({,"type":"chat","message":"a"})",
      R"({"typ\u0065":"chat","message":"a"})",
      R"({"type":"c\u0068at","message":"a"})",
      "\xef\xbb\xbf{\"type\":\"chat\",\"message\":\"a\"}",
      "{\"type\":\"chat\",\"message\":\"" + std::string(65000, 'x') + "\"}",
      "{\"type\":\"chat\",\"message\":\"" + std::string(70000, 'x') + "\"}",
      "{\"type\":\"chat\",\"message\":\"" + std::string(1000, '\\') + "\"}",
      "{\"type\":\"chat\",\"message\":\"" + std::string(1000, 'x') + "\\n\"}",
  };
  for (const auto& c : cases) {
    expect_same(c);
  }
  // The fast path's own answers, spelled out.
  const auto hi = decode_client(R"({"message":"a\/b","type":"chat"})");
  ASSERT_TRUE(std::holds_alternative<ClientPacket>(hi));
  EXPECT_EQ(std::get<ChatRequest>(std::get<ClientPacket>(hi)).message, "a/b");
  const auto dup = decode_client(R"({"type":"chat","message":"first","message":"second"})");
  ASSERT_TRUE(std::holds_alternative<ClientPacket>(dup));
  EXPECT_EQ(std::get<ChatRequest>(std::get<ClientPacket>(dup)).message, "first");
  const auto newline = decode_client(R"({"type":"chat","message":"a\nb"})");
  ASSERT_TRUE(std::holds_alternative<DecodeError>(newline));
  EXPECT_EQ(std::get<DecodeError>(newline).code, ErrorCode::kBadMessage);
  EXPECT_FALSE(std::get<DecodeError>(newline).fatal);
}

}  // namespace
}  // namespace chat::proto
