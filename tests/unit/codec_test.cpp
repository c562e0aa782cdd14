// Codec: decode_client against PROTOCOL.md's errors table, decode_server, encode round-trips.
#include "protocol/codec.hpp"
#include "tests/support/wire.hpp"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <string>
#include <vector>

#include "protocol/frame.hpp"
#include "protocol/rules.hpp"

namespace chat::proto {
namespace {

std::string describe(const Decoded<ClientPacket>& d) {
  if (const auto* e = std::get_if<DecodeError>(&d)) {
    return std::string("error ") + std::string(error_name(e->code)) +
           (e->fatal ? " (fatal): " : " (non-fatal): ") + e->message;
  }
  return "packet " + encode(std::get<ClientPacket>(d));
}

// Asserts that `payload` decodes to the error `code` with the given fatality.
void expect_error(std::string_view payload, ErrorCode code, bool fatal) {
  const auto d = decode_client(payload);
  const auto* e = std::get_if<DecodeError>(&d);
  ASSERT_NE(e, nullptr) << "payload " << payload << " gave " << describe(d);
  EXPECT_EQ(e->code, code) << "payload " << payload << " gave " << describe(d);
  EXPECT_EQ(e->fatal, fatal) << "payload " << payload << " gave " << describe(d);
  EXPECT_FALSE(e->message.empty()) << "an error carries human readable text";
}

template <typename T>
T expect_packet(std::string_view payload) {
  const auto d = decode_client(payload);
  if (!std::holds_alternative<ClientPacket>(d)) {
    ADD_FAILURE() << "payload " << payload << " gave " << describe(d);
    return T{};
  }
  const auto& p = std::get<ClientPacket>(d);
  if (!std::holds_alternative<T>(p)) {
    ADD_FAILURE() << "payload " << payload << " gave " << describe(d);
    return T{};
  }
  return std::get<T>(p);
}

template <typename T>
T expect_server_packet(std::string_view payload) {
  const auto d = decode_server(payload);
  if (const auto* e = std::get_if<DecodeError>(&d)) {
    ADD_FAILURE() << "payload " << payload << " gave error " << error_name(e->code) << ": "
                  << e->message;
    return T{};
  }
  const auto& p = std::get<ServerPacket>(d);
  if (!std::holds_alternative<T>(p)) {
    ADD_FAILURE() << "payload " << payload << " decoded to another type: " << encode(p);
    return T{};
  }
  return std::get<T>(p);
}

std::string bytes(std::initializer_list<int> list) {
  std::string s;
  for (int b : list) {
    s.push_back(static_cast<char>(b));
  }
  return s;
}

std::string hello_with_nick_json(std::string_view nick_json) {
  return std::string(R"({"type":"hello","nick":)") + std::string(nick_json) + "}";
}
std::string hello_with_nick(std::string_view raw_nick) {
  return hello_with_nick_json("\"" + std::string(raw_nick) + "\"");
}
std::string chat_with_message(std::string_view raw_message) {
  return std::string(R"({"type":"chat","message":")") + std::string(raw_message) + "\"}";
}
std::string hex4(unsigned c) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04x", c);
  return buf;
}

// ---- envelope: bad-packet, fatal -------------------------------------------

// The ASCII fast paths (parse without RapidJSON's validation, the message rule
// inline) decide exactly as the full path: controls in ASCII and after non-ASCII
// text, DEL, and a lone surrogate made by an escape in an all-ASCII payload.
TEST(DecodeClient, AsciiFastPathsKeepEveryRule) {
  const auto code = [](std::string_view payload) {
    const auto d = decode_client(payload);
    const auto* e = std::get_if<DecodeError>(&d);
    return e == nullptr ? std::string("ok") : std::string(error_name(e->code));
  };
  EXPECT_EQ(code(R"({"type":"chat","message":"plain"})"), "ok");
  EXPECT_EQ(code(R"({"type":"chat","message":"a\u001fb"})"), "bad-message");
  EXPECT_EQ(code("{\"type\":\"chat\",\"message\":\"a\x7f\"}"), "bad-message");
  EXPECT_EQ(code(R"({"type":"chat","message":"\u00e9\u0085"})"), "bad-message");
  EXPECT_EQ(code("{\"type\":\"chat\",\"message\":\"\xc3\xa9 x\"}"), "ok");
  EXPECT_EQ(code("{\"type\":\"chat\",\"message\":\"\xc3\xa9 \\u0001\"}"), "bad-message");
  EXPECT_EQ(code(R"({"type":"chat","message":"x\udc00"})"), "bad-packet");
  EXPECT_EQ(code("{\"type\":\"chat\",\"message\":\"\xc3\"}"), "bad-packet");
}

// Control characters after non-ASCII text are escaped on the way out and come
// back intact (a SIMD string writer once skipped them here).
TEST(Encode, ControlsAfterNonAsciiRoundTrip) {
  const std::string nick = "mallory";
  const std::string message =
      "x\x1b[2J\x1b]0;pwned\x07\xc2\x9b"
      "31m";
  const auto payload = encode(Chat{nick, message, false});
  EXPECT_EQ(payload.find('\x1b'), std::string::npos);
  const auto d = decode_server(payload);
  ASSERT_TRUE(std::holds_alternative<ServerPacket>(d));
  const auto* chat = std::get_if<Chat>(&std::get<ServerPacket>(d));
  ASSERT_NE(chat, nullptr);
  EXPECT_EQ(chat->message, message);
}

TEST(DecodeClient, NotUtf8IsFatalBadPacket) {
  expect_error(chat_with_message("a" + bytes({0xff}) + "b"), ErrorCode::kBadPacket, true);
  expect_error(chat_with_message(bytes({0xc0, 0xaf})), ErrorCode::kBadPacket, true);  // overlong
  expect_error(chat_with_message(bytes({0xed, 0xa0, 0x80})), ErrorCode::kBadPacket, true);
  expect_error(chat_with_message(bytes({0xf4, 0x90, 0x80, 0x80})), ErrorCode::kBadPacket, true);
  expect_error(chat_with_message(bytes({0xe4, 0xbd})), ErrorCode::kBadPacket, true);  // truncated
  expect_error(hello_with_nick("p" + bytes({0xfe}) + "t"), ErrorCode::kBadPacket, true);
  // In a member name, and in the type itself.
  expect_error("{\"type\":\"chat\",\"m" + bytes({0x80}) + "\":1,\"message\":\"hi\"}",
               ErrorCode::kBadPacket, true);
  expect_error("{\"type\":\"ch" + bytes({0xc3}) + "at\"}", ErrorCode::kBadPacket, true);
  // Latin-1 text is not UTF-8.
  expect_error(chat_with_message(bytes({'c', 'a', 'f', 0xe9})), ErrorCode::kBadPacket, true);
}

TEST(DecodeClient, NotJsonIsFatalBadPacket) {
  for (const char* p :
       {"", "hello", "{", "{\"type\":\"chat\"", "{'type':'chat'}",
        "{\"type\":\"chat\",\"message\":\"hi\"} trailing",
        "{\"type\":\"chat\",\"message\":\"hi\"}{}", "{type:\"chat\"}",
        "{\"type\":\"chat\",\"message\":\"hi\",}", "{\"type\":\"chat\",\"n\":NaN}"}) {
    SCOPED_TRACE(p);
    expect_error(p, ErrorCode::kBadPacket, true);
  }
  // A raw (unescaped) control character inside a JSON string is not JSON.
  expect_error(chat_with_message("a\x01"
                                 "b"),
               ErrorCode::kBadPacket, true);
  expect_error(chat_with_message(std::string("a\0b", 3)), ErrorCode::kBadPacket, true);
}

TEST(DecodeClient, NotObjectIsFatalBadPacket) {
  for (const char* p : {"[]", "[{\"type\":\"hello\",\"nick\":\"pat\"}]", "\"hello\"", "42", "null",
                        "true", "\"{\\\"type\\\":\\\"chat\\\"}\""}) {
    SCOPED_TRACE(p);
    expect_error(p, ErrorCode::kBadPacket, true);
  }
}

TEST(DecodeClient, NoStringTypeIsFatalBadPacket) {
  for (const char* p : {"{}", "{\"nick\":\"pat\"}", "{\"type\":1}", "{\"type\":null}",
                        "{\"type\":true}", "{\"type\":[\"hello\"]}", "{\"type\":{\"t\":\"hello\"}}",
                        "{\"Type\":\"hello\",\"nick\":\"pat\"}",
                        "{\"message\":\"hi\",\"nested\":{\"type\":\"chat\"}}"}) {
    SCOPED_TRACE(p);
    expect_error(p, ErrorCode::kBadPacket, true);
  }
}

TEST(DecodeClient, HelloCapsNotListOfStringsIsFatalBadPacket) {
  for (const char* caps : {"\"dm\"", "{}", "null", "1", "[1]", "[\"dm\",null]", "[[\"dm\"]]",
                           "[\"dm\",{\"x\":1}]", "true"}) {
    SCOPED_TRACE(caps);
    expect_error(std::string(R"({"type":"hello","nick":"pat","caps":)") + caps + "}",
                 ErrorCode::kBadPacket, true);
  }
}

// ---- hello: nick-invalid, fatal --------------------------------------------

TEST(DecodeClient, NickMissingOrNotStringIsFatalNickInvalid) {
  expect_error(R"({"type":"hello"})", ErrorCode::kNickInvalid, true);
  expect_error(R"({"type":"hello","caps":[]})", ErrorCode::kNickInvalid, true);
  for (const char* nick : {"1", "null", "true", "[\"pat\"]", "{\"nick\":\"pat\"}"}) {
    SCOPED_TRACE(nick);
    expect_error(hello_with_nick_json(nick), ErrorCode::kNickInvalid, true);
  }
}

TEST(DecodeClient, NickEmptyIsFatalNickInvalid) {
  expect_error(hello_with_nick(""), ErrorCode::kNickInvalid, true);
}

TEST(DecodeClient, NickOf33CodePointsIsFatalNickInvalid) {
  expect_error(hello_with_nick(std::string(33, 'a')), ErrorCode::kNickInvalid, true);
  std::string cjk33;
  for (int i = 0; i < 33; ++i) {
    cjk33 += "汉";
  }
  expect_error(hello_with_nick(cjk33), ErrorCode::kNickInvalid, true);
}

TEST(DecodeClient, NickWithWhitespaceIsFatalNickInvalid) {
  for (const std::string& nick : std::vector<std::string>{
           " pat", "pat ", "pa t", "pa\\tt", "pa\\nt", "pa\\u00a0t", "pa\u00a0t", "pa\u3000t",
           "pa\\u3000t", "\u3000", "pa\u2003t", "pa\u2028t", "pa\u205ft"}) {
    SCOPED_TRACE(nick);
    expect_error(hello_with_nick(nick), ErrorCode::kNickInvalid, true);
  }
}

TEST(DecodeClient, NickWithControlCharacterIsFatalNickInvalid) {
  for (unsigned c = 0; c < 0x20; ++c) {
    SCOPED_TRACE(c);
    expect_error(hello_with_nick("pa\\u" + hex4(c) + "t"), ErrorCode::kNickInvalid, true);
  }
  for (unsigned c = 0x7f; c <= 0x9f; ++c) {
    SCOPED_TRACE(c);
    expect_error(hello_with_nick("pa\\u" + hex4(c) + "t"), ErrorCode::kNickInvalid, true);
  }
  // Raw DEL and raw C1 (valid UTF-8, so valid JSON) are still controls.
  expect_error(hello_with_nick("pa\x7ft"), ErrorCode::kNickInvalid, true);
  expect_error(hello_with_nick("pa\u0085t"), ErrorCode::kNickInvalid, true);
  expect_error(hello_with_nick("\\u001b[31m"), ErrorCode::kNickInvalid, true);
}

TEST(DecodeClient, NickWithForbiddenPunctuationIsFatalNickInvalid) {
  for (const char c : std::string(":/*@,#!")) {
    SCOPED_TRACE(std::string(1, c));
    expect_error(hello_with_nick(std::string("pa") + c + "t"), ErrorCode::kNickInvalid, true);
    expect_error(hello_with_nick(std::string(1, c)), ErrorCode::kNickInvalid, true);
  }
  // The fallback pseudo-nicks of part 2 can never be real nicks.
  expect_error(hello_with_nick("*"), ErrorCode::kNickInvalid, true);
  expect_error(hello_with_nick("***"), ErrorCode::kNickInvalid, true);
}

TEST(DecodeClient, NickWithLoneSurrogateEscapeIsRejected) {
  // "\ud800" is well-formed JSON syntax but names no character; it must not become a
  // nick (which would be re-broadcast as invalid UTF-8).
  for (const char* nick : {"\\ud800", "\\udc00", "pa\\udfff", "\\ud83c"}) {
    SCOPED_TRACE(nick);
    const auto d = decode_client(hello_with_nick(nick));
    const auto* e = std::get_if<DecodeError>(&d);
    ASSERT_NE(e, nullptr) << describe(d);
    EXPECT_TRUE(e->code == ErrorCode::kNickInvalid || e->code == ErrorCode::kBadPacket)
        << describe(d);
    EXPECT_TRUE(e->fatal);
  }
}

// ---- hello: accepted --------------------------------------------------------

TEST(DecodeClient, HelloPasswordIsKeptAndOptional) {
  const auto plain = expect_packet<Hello>(R"({"type":"hello","nick":"pat"})");
  EXPECT_FALSE(plain.password.has_value());
  const auto with = expect_packet<Hello>(R"({"type":"hello","nick":"pat","password":"s3cret pw"})");
  ASSERT_TRUE(with.password.has_value());
  EXPECT_EQ(*with.password, "s3cret pw");
  // NULs and other controls are allowed: a password is hashed, never shown.
  const auto nul = expect_packet<Hello>(R"({"type":"hello","nick":"pat","password":"a\u0000b"})");
  ASSERT_TRUE(nul.password.has_value());
  EXPECT_EQ(*nul.password, std::string("a\0b", 3));
  const std::string longest(kMaxPassword, 'x');
  const auto at_bound =
      expect_packet<Hello>(R"({"type":"hello","nick":"pat","password":")" + longest + "\"}");
  EXPECT_EQ(at_bound.password.value_or(""), longest);
}

TEST(DecodeClient, HelloWithABadPasswordIsFatalBadPacket) {
  const std::string over(kMaxPassword + 1, 'x');
  for (const std::string& payload : {
           R"({"type":"hello","nick":"pat","password":")" + over + "\"}",
           std::string(R"({"type":"hello","nick":"pat","password":""})"),
           std::string(R"({"type":"hello","nick":"pat","password":42})"),
           std::string(R"({"type":"hello","nick":"pat","password":null})"),
           std::string(R"({"type":"hello","nick":"pat","password":["a"]})"),
           std::string(R"({"type":"hello","nick":"pat","password":"\udc00"})"),
       }) {
    expect_error(payload, ErrorCode::kBadPacket, true);
    // The refusal never quotes the password back.
    const auto d = decode_client(payload);
    if (const auto* e = std::get_if<DecodeError>(&d)) {
      EXPECT_EQ(e->message.find("xxxx"), std::string::npos);
    }
  }
}

TEST(EncodeClient, HelloPasswordRoundTrips) {
  Hello hello{"pat", std::vector<std::string>{"dm"}, std::string("pw\"\\")};
  const auto back = expect_packet<Hello>(encode(ClientPacket{hello}));
  EXPECT_EQ(back.password.value_or(""), "pw\"\\");
}

TEST(DecodeClient, LegacyHelloHasNoCaps) {
  const auto h = expect_packet<Hello>(R"({"type":"hello","nick":"pat"})");
  EXPECT_EQ(h.nick, "pat");
  EXPECT_FALSE(h.caps.has_value());
}

TEST(DecodeClient, EmptyCapsListMakesModernHello) {
  const auto h = expect_packet<Hello>(R"({"type":"hello","nick":"pat","caps":[]})");
  ASSERT_TRUE(h.caps.has_value());
  EXPECT_TRUE(h.caps->empty());
}

TEST(DecodeClient, HelloKeepsRequestedCapsInOrderIncludingUnknown) {
  const auto h =
      expect_packet<Hello>(R"({"type":"hello","nick":"pat","caps":["who","teleport","dm"]})");
  ASSERT_TRUE(h.caps.has_value());
  EXPECT_EQ(*h.caps, (std::vector<std::string>{"who", "teleport", "dm"}));
}

TEST(DecodeClient, Nick32CjkCodePointsAccepted) {
  std::string cjk32;
  for (int i = 0; i < 32; ++i) {
    cjk32 += "汉";
  }
  EXPECT_EQ(expect_packet<Hello>(hello_with_nick(cjk32)).nick, cjk32);
  EXPECT_EQ(expect_packet<Hello>(hello_with_nick(std::string(32, 'a'))).nick, std::string(32, 'a'));
}

TEST(DecodeClient, EmojiNickAccepted) {
  EXPECT_EQ(expect_packet<Hello>(hello_with_nick("🎉party")).nick, "🎉party");
  // The same emoji as a JSON surrogate-pair escape.
  EXPECT_EQ(expect_packet<Hello>(hello_with_nick("\\ud83c\\udf89party")).nick, "🎉party");
}

TEST(DecodeClient, NickEscapesDecoded) {
  EXPECT_EQ(expect_packet<Hello>(hello_with_nick("caf\\u00e9")).nick, "café");
  EXPECT_EQ(expect_packet<Hello>(hello_with_nick("a\\\"b")).nick, "a\"b");
}

TEST(DecodeClient, MemberOrderIsIrrelevant) {
  EXPECT_EQ(expect_packet<Hello>(R"({"nick":"pat","type":"hello"})").nick, "pat");
  EXPECT_EQ(expect_packet<ChatRequest>(R"({"message":"hi","type":"chat"})").message, "hi");
  const auto dm = expect_packet<DmRequest>(R"({"message":"yo","to":"chris","type":"dm"})");
  EXPECT_EQ(dm.to, "chris");
  EXPECT_EQ(dm.message, "yo");
}

TEST(DecodeClient, UnknownMembersAreIgnored) {
  EXPECT_EQ(
      expect_packet<Hello>(
          R"({"type":"hello","colour":"red","nick":"pat","x":{"y":[1,2,{"z":null}]},"n":1.5})")
          .nick,
      "pat");
  // A chat from the client has no nick; one sent anyway is ignored, not trusted.
  EXPECT_EQ(
      expect_packet<ChatRequest>(R"({"type":"chat","nick":"mallory","message":"hi"})").message,
      "hi");
  expect_packet<WhoRequest>(R"({"type":"who","room":"x","extra":[]})");
  expect_packet<RoomsRequest>(R"({"type":"rooms","page":2})");
}

TEST(DecodeClient, WhitespaceAroundJsonIsFine) {
  EXPECT_EQ(
      expect_packet<ChatRequest>(" \n{ \"type\" : \"chat\" , \"message\" : \"hi\" }\r\n ").message,
      "hi");
}

TEST(DecodeClient, TypeIsCaseSensitiveAndExact) {
  expect_error(R"({"type":"HELLO","nick":"pat"})", ErrorCode::kUnknownType, false);
  expect_error(R"({"type":"chat ","message":"hi"})", ErrorCode::kUnknownType, false);
  expect_error(R"({"type":"chat\u0000x","message":"hi"})", ErrorCode::kUnknownType, false);
}

// ---- chat / emote / dm / enter ---------------------------------------------

TEST(DecodeClient, ChatMessagesDecoded) {
  EXPECT_EQ(expect_packet<ChatRequest>(chat_with_message("Hello?")).message, "Hello?");
  EXPECT_EQ(expect_packet<ChatRequest>(chat_with_message("你好，世界")).message, "你好，世界");
  EXPECT_EQ(expect_packet<ChatRequest>(chat_with_message("🎉👍🏽")).message, "🎉👍🏽");
  EXPECT_EQ(expect_packet<ChatRequest>(chat_with_message("oh no!! :) \\\"q\\\" \\\\ /")).message,
            "oh no!! :) \"q\" \\ /");
  EXPECT_EQ(expect_packet<ChatRequest>(chat_with_message("   ")).message, "   ");
}

TEST(DecodeClient, MaxSizeChatDecoded) {
  const std::string prefix = R"({"type":"chat","message":")";
  const std::string message(kMaxPayload - prefix.size() - 2, 'x');
  const std::string payload = prefix + message + "\"}";
  ASSERT_EQ(payload.size(), kMaxPayload);
  EXPECT_EQ(expect_packet<ChatRequest>(payload).message, message);
}

TEST(DecodeClient, MissingOrMistypedMemberIsNonFatalBadPacket) {
  for (const char* p :
       {R"({"type":"chat"})", R"({"type":"chat","message":5})", R"({"type":"chat","message":null})",
        R"({"type":"chat","message":["hi"]})", R"({"type":"chat","msg":"hi"})",
        R"({"type":"emote"})", R"({"type":"emote","message":{}})",
        R"({"type":"dm","message":"hi"})", R"({"type":"dm","to":7,"message":"hi"})",
        R"({"type":"dm","to":"chris"})", R"({"type":"dm","to":"chris","message":false})",
        R"({"type":"enter"})", R"({"type":"enter","room":1})"}) {
    SCOPED_TRACE(p);
    expect_error(p, ErrorCode::kBadPacket, false);
  }
}

TEST(DecodeClient, EmptyMessageIsNonFatalBadMessage) {
  expect_error(chat_with_message(""), ErrorCode::kBadMessage, false);
  expect_error(R"({"type":"emote","message":""})", ErrorCode::kBadMessage, false);
  expect_error(R"({"type":"dm","to":"chris","message":""})", ErrorCode::kBadMessage, false);
}

TEST(DecodeClient, ControlCharacterInMessageIsNonFatalBadMessage) {
  for (unsigned c = 0; c < 0x20; ++c) {
    SCOPED_TRACE(c);
    expect_error(chat_with_message("a\\u" + hex4(c) + "b"), ErrorCode::kBadMessage, false);
  }
  for (unsigned c = 0x7f; c <= 0x9f; ++c) {
    SCOPED_TRACE(c);
    expect_error(chat_with_message("a\\u" + hex4(c) + "b"), ErrorCode::kBadMessage, false);
  }
  // Raw DEL and raw C1 bytes are legal inside JSON strings, and still controls.
  expect_error(chat_with_message("a\x7f"
                                 "b"),
               ErrorCode::kBadMessage, false);
  expect_error(chat_with_message("a\u009b"
                                 "2J"),
               ErrorCode::kBadMessage, false);
  expect_error(chat_with_message("\\u001b[2J\\u001b]0;owned\\u0007"), ErrorCode::kBadMessage,
               false);
  expect_error(R"({"type":"emote","message":"a\nb"})", ErrorCode::kBadMessage, false);
  expect_error(R"({"type":"dm","to":"chris","message":"a\rb"})", ErrorCode::kBadMessage, false);
}

TEST(DecodeClient, MessageWithLoneSurrogateEscapeIsRejected) {
  for (const char* m : {"a\\ud800b", "\\udc00", "x\\ud83c"}) {
    SCOPED_TRACE(m);
    const auto d = decode_client(chat_with_message(m));
    const auto* e = std::get_if<DecodeError>(&d);
    ASSERT_NE(e, nullptr) << describe(d);
    EXPECT_TRUE(e->code == ErrorCode::kBadMessage || e->code == ErrorCode::kBadPacket)
        << describe(d);
  }
}

TEST(DecodeClient, InvalidRoomIsNonFatalBadRoom) {
  for (const std::string& room :
       std::vector<std::string>{"", "two words", "#games", "a:b", "a/b", "x*", "@r", "a,b", "!",
                                "tab\\there", "\\u0007", std::string(33, 'r')}) {
    SCOPED_TRACE(room);
    expect_error(R"({"type":"enter","room":")" + room + "\"}", ErrorCode::kBadRoom, false);
  }
}

TEST(DecodeClient, ValidRequestsDecoded) {
  EXPECT_EQ(expect_packet<EnterRequest>(R"({"type":"enter","room":"游戏"})").room, "游戏");
  EXPECT_EQ(expect_packet<EmoteRequest>(R"({"type":"emote","message":"waves"})").message, "waves");
  const auto dm =
      expect_packet<DmRequest>(R"({"type":"dm","to":"chris","message":"how's it going?"})");
  EXPECT_EQ(dm.to, "chris");
  EXPECT_EQ(dm.message, "how's it going?");
  expect_packet<WhoRequest>(R"({"type":"who"})");
  expect_packet<RoomsRequest>(R"({"type":"rooms"})");
}

TEST(DecodeClient, UnknownTypeIsNonFatal) {
  for (const char* p : {R"({"type":"shout","message":"hi"})", R"({"type":""})",
                        R"({"type":"welcome","nick":"pat"})", R"({"type":"join","nick":"pat"})",
                        R"({"type":"leave","nick":"pat"})", R"({"type":"error","code":"x"})",
                        R"({"type":"info","message":"x"})"}) {
    SCOPED_TRACE(p);
    expect_error(p, ErrorCode::kUnknownType, false);
  }
}

TEST(DecodeClient, DeeplyNestedJsonDoesNotCrash) {
  // Fits in one frame; a recursive parser would overflow the stack.
  const std::size_t depth = 30000;
  std::string p = R"({"type":"chat","message":"hi","deep":)";
  p += std::string(depth, '[');
  p += std::string(depth, ']');
  p += "}";
  ASSERT_LE(p.size(), kMaxPayload);
  EXPECT_EQ(expect_packet<ChatRequest>(p).message, "hi");
  std::string unclosed = R"({"type":"chat","deep":)" + std::string(60000, '{');
  expect_error(unclosed, ErrorCode::kBadPacket, true);
}

// ---- decode_server ----------------------------------------------------------

TEST(DecodeServer, Part1Packets) {
  const auto c = expect_server_packet<Chat>(R"({"type":"chat","nick":"pat","message":"Hello?"})");
  EXPECT_EQ(c.nick, "pat");
  EXPECT_EQ(c.message, "Hello?");
  EXPECT_FALSE(c.history);
  const auto j = expect_server_packet<Join>(R"({"type":"join","nick":"pat"})");
  EXPECT_EQ(j.nick, "pat");
  EXPECT_FALSE(j.room.has_value());
  const auto l = expect_server_packet<Leave>(R"({"nick":"chris","type":"leave"})");
  EXPECT_EQ(l.nick, "chris");
  EXPECT_FALSE(l.room.has_value());
}

TEST(DecodeServer, UnknownMembersIgnored) {
  const auto c = expect_server_packet<Chat>(
      R"({"type":"chat","nick":"pat","message":"hi","colour":"red","ts":123})");
  EXPECT_EQ(c.message, "hi");
  EXPECT_EQ(expect_server_packet<Join>(R"({"type":"join","nick":"pat","room":"games","x":1})")
                .room.value_or("-"),
            "games");
}

TEST(DecodeServer, ExtensionPackets) {
  const auto w = expect_server_packet<Welcome>(
      R"({"type":"welcome","nick":"pat","server":"chatd/1.0","caps":["dm","who"],"room":"lobby"})");
  EXPECT_EQ(w.nick, "pat");
  EXPECT_EQ(w.server, "chatd/1.0");
  EXPECT_EQ(w.caps, (std::vector<std::string>{"dm", "who"}));
  EXPECT_EQ(w.room, "lobby");
  const auto dm = expect_server_packet<Dm>(
      R"({"type":"dm","from":"pat","to":"chris","message":"how's it going?"})");
  EXPECT_EQ(dm.from, "pat");
  EXPECT_EQ(dm.to, "chris");
  const auto e = expect_server_packet<Emote>(
      R"({"type":"emote","nick":"pat","message":"waves","history":true})");
  EXPECT_TRUE(e.history);
  const auto who =
      expect_server_packet<WhoReply>(R"({"type":"who","room":"lobby","nicks":["leslie","pat"]})");
  EXPECT_EQ(who.nicks, (std::vector<std::string>{"leslie", "pat"}));
  const auto rooms = expect_server_packet<RoomsReply>(
      R"({"type":"rooms","rooms":[{"name":"games","users":2},{"name":"lobby","users":0}]})");
  ASSERT_EQ(rooms.rooms.size(), 2u);
  EXPECT_EQ(rooms.rooms[0].name, "games");
  EXPECT_EQ(rooms.rooms[0].users, 2u);
  EXPECT_EQ(
      expect_server_packet<Info>(R"({"type":"info","message":"server shutting down"})").message,
      "server shutting down");
  const auto c =
      expect_server_packet<Chat>(R"({"type":"chat","nick":"pat","message":"hi","history":true})");
  EXPECT_TRUE(c.history);
}

TEST(DecodeServer, ErrorKeepsUnknownCodeAsString) {
  const auto e = expect_server_packet<Error>(
      R"({"type":"error","code":"brand-new-code","message":"something new"})");
  EXPECT_EQ(e.code, "brand-new-code");
  EXPECT_EQ(e.message, "something new");
  EXPECT_EQ(
      expect_server_packet<Error>(R"({"type":"error","code":"nick-taken","message":"x"})").code,
      "nick-taken");
}

TEST(DecodeServer, UnknownTypeIsNonFatal) {
  const auto d = decode_server(R"({"type":"teleport","to":"mars"})");
  const auto* e = std::get_if<DecodeError>(&d);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->code, ErrorCode::kUnknownType);
  EXPECT_FALSE(e->fatal);
}

TEST(DecodeServer, MissingMembersAreNonFatalBadPacket) {
  for (const char* p : {R"({"type":"chat","message":"hi"})", R"({"type":"chat","nick":"pat"})",
                        R"({"type":"chat","nick":1,"message":"hi"})", R"({"type":"join"})",
                        R"({"type":"leave","nick":null})", R"({"type":"dm","from":"a","to":"b"})",
                        R"({"type":"info"})", R"({"type":"emote","nick":"pat"})"}) {
    SCOPED_TRACE(p);
    const auto d = decode_server(p);
    const auto* e = std::get_if<DecodeError>(&d);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->code, ErrorCode::kBadPacket);
    EXPECT_FALSE(e->fatal);
  }
}

TEST(DecodeServer, BrokenEnvelopeIsFatalBadPacket) {
  for (const std::string& p : std::vector<std::string>{
           std::string("nope"), std::string("[]"), std::string("{}"), std::string(R"({"type":7})"),
           "{\"type\":\"chat\",\"nick\":\"p\",\"message\":\"" + bytes({0xff}) + "\"}"}) {
    SCOPED_TRACE(p);
    const auto d = decode_server(p);
    const auto* e = std::get_if<DecodeError>(&d);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->code, ErrorCode::kBadPacket);
    EXPECT_TRUE(e->fatal);
  }
}

// ---- encode -----------------------------------------------------------------

// Parses `json` and checks it is an object whose members are exactly `expected`
// (name -> string value).
void expect_json_object(const std::string& json,
                        const std::vector<std::pair<std::string, std::string>>& expected) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  ASSERT_FALSE(doc.HasParseError()) << json;
  ASSERT_TRUE(doc.IsObject()) << json;
  EXPECT_EQ(doc.MemberCount(), expected.size()) << json;
  for (const auto& [name, value] : expected) {
    const auto it = doc.FindMember(name.c_str());
    ASSERT_NE(it, doc.MemberEnd()) << name << " missing in " << json;
    ASSERT_TRUE(it->value.IsString()) << name << " in " << json;
    EXPECT_EQ(std::string(it->value.GetString(), it->value.GetStringLength()), value)
        << name << " in " << json;
  }
}

TEST(Encode, Part1ServerPacketsHaveExactlyTheCourseMembers) {
  expect_json_object(encode(ServerPacket{Chat{"pat", "Hello?", false}}),
                     {{"type", "chat"}, {"nick", "pat"}, {"message", "Hello?"}});
  expect_json_object(encode(ServerPacket{Join{"pat", std::nullopt}}),
                     {{"type", "join"}, {"nick", "pat"}});
  expect_json_object(encode(ServerPacket{Leave{"chris", std::nullopt}}),
                     {{"type", "leave"}, {"nick", "chris"}});
}

TEST(Encode, Part1ClientPacketsHaveExactlyTheCourseMembers) {
  expect_json_object(encode(ClientPacket{Hello{"pat", std::nullopt}}),
                     {{"type", "hello"}, {"nick", "pat"}});
  expect_json_object(encode(ClientPacket{ChatRequest{"hi"}}),
                     {{"type", "chat"}, {"message", "hi"}});
}

TEST(Encode, ErrorPacket) {
  expect_json_object(encode_error(ErrorCode::kNickTaken, "nick pat is taken"),
                     {{"type", "error"}, {"code", "nick-taken"}, {"message", "nick pat is taken"}});
  expect_json_object(encode_error(ErrorCode::kHelloTimeout, "no hello"),
                     {{"type", "error"}, {"code", "hello-timeout"}, {"message", "no hello"}});
}

TEST(Encode, EscapesSoOutputIsValidJson) {
  const std::string tricky = "q\"uo\\te\x01\x1f\x7f 你好 🎉 </script>";
  const std::string json = encode(ServerPacket{Chat{"pat", tricky, false}});
  EXPECT_EQ(json.find('\x01'), std::string::npos) << "raw control character in output";
  const auto c = expect_server_packet<Chat>(json);
  EXPECT_EQ(c.message, tricky);
}

TEST(Encode, ClientPacketsRoundTrip) {
  const std::vector<ClientPacket> packets{
      Hello{"pat", std::nullopt},
      Hello{"小明", std::vector<std::string>{}},
      Hello{"pat", std::vector<std::string>{"dm", "emote", "who", "rooms", "info", "history"}},
      ChatRequest{"Hello?"},
      ChatRequest{"你好 🎉 \"quoted\" \\ back"},
      DmRequest{"chris", "how's it going?"},
      EmoteRequest{"goes out to buy some snacky cakes"},
      WhoRequest{},
      EnterRequest{"games"},
      RoomsRequest{},
  };
  for (const auto& p : packets) {
    const std::string json = encode(p);
    SCOPED_TRACE(json);
    const auto d = decode_client(json);
    ASSERT_TRUE(std::holds_alternative<ClientPacket>(d)) << describe(d);
    const auto& back = std::get<ClientPacket>(d);
    EXPECT_EQ(back.index(), p.index());
    EXPECT_EQ(encode(back), json);
  }
  const auto h = std::get<Hello>(std::get<ClientPacket>(
      decode_client(encode(ClientPacket{Hello{"pat", std::vector<std::string>{"dm", "who"}}}))));
  EXPECT_EQ(h.nick, "pat");
  EXPECT_EQ(h.caps, (std::vector<std::string>{"dm", "who"}));
}

TEST(Encode, ServerPacketsRoundTrip) {
  const std::vector<ServerPacket> packets{
      Welcome{"pat", "chatd/0.1.0", {"dm", "who"}, "lobby"},
      Chat{"pat", "Hello?", false},
      Chat{"pat", "old news", true},
      Chat{"pat -> chris", "fallback dm", false},
      Join{"pat", std::nullopt},
      Join{"pat", std::string("games")},
      Leave{"chris", std::nullopt},
      Leave{"chris", std::string("lobby")},
      Dm{"pat", "chris", "how's it going?"},
      Emote{"pat", "waves", false},
      Emote{"pat", "waved", true},
      WhoReply{"lobby", {"leslie", "pat"}},
      RoomsReply{{{"games", 2}, {"lobby", 0}}},
      Info{"server shutting down"},
      Error{"bad-packet", "payload is not JSON"},
  };
  for (const auto& p : packets) {
    const std::string json = encode(p);
    SCOPED_TRACE(json);
    const auto d = decode_server(json);
    ASSERT_TRUE(std::holds_alternative<ServerPacket>(d));
    const auto& back = std::get<ServerPacket>(d);
    EXPECT_EQ(back.index(), p.index());
    EXPECT_EQ(encode(back), json);
  }
}

TEST(Encode, MaxSizeChatFitsOneFrame) {
  // The largest message whose server chat packet still fits in one frame survives framing.
  const std::string base = encode(ServerPacket{Chat{"pat", "", false}});
  const std::string message(kMaxPayload - base.size(), 'z');
  const std::string json = encode(ServerPacket{Chat{"pat", message, false}});
  ASSERT_EQ(json.size(), kMaxPayload);
  const std::string frame = chat::test::frame_of(json);
  ASSERT_EQ(frame.size(), kMaxPayload + 2);
  FrameDecoder d;
  d.feed(frame);
  std::string_view payload;
  ASSERT_EQ(d.next(payload), FrameDecoder::Status::kFrame);
  EXPECT_EQ(expect_server_packet<Chat>(payload).message, message);
}

}  // namespace
}  // namespace chat::proto

namespace chat::proto {
namespace {

// Issue 10, defect 1: a dm to a 65 490-byte "nick" made a no-such-nick error too
// long for a frame. The codec now refuses a "to" that breaks the nick rules,
// without quoting it.
TEST(DecodeClient, DmToAnInvalidNickIsNoSuchNickWithoutQuotingIt) {
  const std::string to(65490, 'x');
  const auto d = decode_client(R"({"type":"dm","to":")" + to + R"(","message":"m"})");
  const auto* err = std::get_if<DecodeError>(&d);
  ASSERT_NE(err, nullptr);
  EXPECT_EQ(err->code, ErrorCode::kNoSuchNick);
  EXPECT_FALSE(err->fatal);
  EXPECT_EQ(err->message.find("xxx"), std::string::npos);
  for (const char* bad : {"", "a b", "a:b", "\xff"}) {
    const auto e =
        decode_client(std::string(R"({"type":"dm","to":")") + bad + R"(","message":"m"})");
    ASSERT_TRUE(std::holds_alternative<DecodeError>(e)) << bad;
  }
}

TEST(EncodeError, LongMessagesAreCutAtAUtf8BoundaryAndMarked) {
  // 3-byte code points, so a cut at a byte bound would split one.
  std::string text;
  for (int i = 0; i < 30000; ++i) {
    text += "\xe4\xbd\xa0";
  }
  const std::string payload = encode_error(ErrorCode::kNoSuchNick, text);
  EXPECT_LE(payload.size(), kMaxErrorText + 64);
  const auto d = decode_server(payload);
  const auto* p = std::get_if<ServerPacket>(&d);
  ASSERT_NE(p, nullptr);
  const auto& e = std::get<Error>(*p);
  EXPECT_TRUE(is_valid_utf8(e.message));
  EXPECT_LE(e.message.size(), kMaxErrorText);
  EXPECT_NE(e.message.find("[truncated]"), std::string::npos);
  EXPECT_EQ(decode_server(encode_error(ErrorCode::kFlood, "short")).index(), 0u);
}

TEST(TruncateUtf8, KeepsShortTextAndNeverSplitsASequence) {
  EXPECT_EQ(truncate_utf8("abc", 3, "!"), "abc");
  EXPECT_EQ(truncate_utf8("abcdef", 4, "!"), "abc!");
  EXPECT_EQ(truncate_utf8("\xc3\xa9\xc3\xa9", 3), "\xc3\xa9");
  EXPECT_EQ(truncate_utf8("abcdef", 2, "long marker"), "ab");
}

TEST(HistoryPayload, AddsTheFlagAndKeepsEveryMember) {
  const std::string live = encode(ServerPacket{Chat{"pat", "hi \"there\"", false}});
  const auto replay = as_history_payload(live);
  ASSERT_TRUE(replay);
  const auto d = decode_server(*replay);
  const auto* p = std::get_if<ServerPacket>(&d);
  ASSERT_NE(p, nullptr);
  const auto& c = std::get<Chat>(*p);
  EXPECT_EQ(c.nick, "pat");
  EXPECT_EQ(c.message, "hi \"there\"");
  EXPECT_TRUE(c.history);
  EXPECT_FALSE(as_history_payload(""));
  EXPECT_FALSE(as_history_payload("[1]"));
}

TEST(HistoryPayload, TsIsAddedAsAMemberWithoutReencoding) {
  const std::string live = encode(ServerPacket{Emote{"pat", "waves", false}});
  const auto stamped = with_ts_payload(*as_history_payload(live), 1700000000000);
  ASSERT_TRUE(stamped);
  const auto& e = expect_server_packet<Emote>(*stamped);
  EXPECT_TRUE(e.history);
  EXPECT_EQ(e.ts, std::optional<std::int64_t>(1700000000000));
  EXPECT_EQ(*with_ts_payload("{}", 5), R"({"ts":5})");
}

// Issue 13: `ts` (time cap) and `to` (moves cap) round-trip, and are absent unless set.
TEST(ServerPackets, TsAndToRoundTripAndAreOptional) {
  EXPECT_EQ(encode(ServerPacket{Chat{"pat", "hi", true, 1700000000000}}),
            R"({"type":"chat","nick":"pat","message":"hi","history":true,"ts":1700000000000})");
  EXPECT_EQ(encode(ServerPacket{Chat{"pat", "hi"}}),
            R"({"type":"chat","nick":"pat","message":"hi"})");
  EXPECT_EQ(encode(ServerPacket{Leave{"pat", "lobby", "games"}}),
            R"({"type":"leave","nick":"pat","room":"lobby","to":"games"})");
  EXPECT_EQ(expect_server_packet<Emote>(R"({"type":"emote","nick":"p","message":"m","ts":5})").ts,
            std::optional<std::int64_t>(5));
  EXPECT_EQ(
      expect_server_packet<Dm>(R"({"type":"dm","from":"a","to":"b","message":"m","ts":7})").ts,
      std::optional<std::int64_t>(7));
  // A mistyped ts is ignored, not an error: it is informative only.
  EXPECT_FALSE(expect_server_packet<Chat>(R"({"type":"chat","nick":"p","message":"m","ts":"x"})")
                   .ts.has_value());
  EXPECT_EQ(expect_server_packet<Leave>(R"({"type":"leave","nick":"p","room":"a","to":"b"})").to,
            std::optional<std::string>("b"));
}

}  // namespace
}  // namespace chat::proto
