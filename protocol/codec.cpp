// RapidJSON codec. Validation runs cheap-first: envelope, then members, then rules.
#include "protocol/codec.hpp"

#include <rapidjson/document.h>

#include <cassert>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <optional>

#include "protocol/json.hpp"
#include "protocol/rules.hpp"

namespace chat::proto {
namespace {

using rapidjson::Value;

using json::checked_string;
using json::find_member;

// Eight bytes at a time (SWAR): whether a word holds a byte that ends a plain run.
constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
constexpr std::uint64_t kHighs = 0x8080808080808080ULL;
// Whether any byte of `w` is zero, or below `n` (n <= 0x80); exact, no false positives.
constexpr std::uint64_t zero_byte(std::uint64_t w) {
  return (w - kOnes) & ~w & kHighs;
}
constexpr std::uint64_t byte_below(std::uint64_t w, unsigned n) {
  return (w - kOnes * n) & ~w & kHighs;
}
// A byte a JSON string must escape: below 0x20, '"' or '\\'.
constexpr bool needs_escape8(std::uint64_t w) {
  return (byte_below(w, 0x20) | zero_byte(w ^ (kOnes * '"')) | zero_byte(w ^ (kOnes * '\\'))) != 0;
}
std::uint64_t load8(const char* p) {
  std::uint64_t w = 0;
  std::memcpy(&w, p, sizeof w);
  return w;
}

std::optional<std::string_view> string_member(const Value& obj, const char* name) {
  const Value* v = find_member(obj, name);
  return v == nullptr ? std::nullopt : checked_string(*v);
}

// An integer member (a time stamp); absent, mistyped or out of range gives nothing.
std::optional<std::int64_t> int_member(const Value& obj, const char* name) {
  const Value* v = find_member(obj, name);
  if (v == nullptr || !v->IsInt64()) {
    return std::nullopt;
  }
  return v->GetInt64();
}

bool bool_member(const Value& obj, const char* name) {
  const Value* v = find_member(obj, name);
  return v != nullptr && v->IsBool() && v->GetBool();
}

DecodeError fatal(ErrorCode code, std::string message) {
  return DecodeError{code, true, std::move(message)};
}
DecodeError open(ErrorCode code, std::string message) {
  return DecodeError{code, false, std::move(message)};
}

// Parses the envelope: UTF-8 JSON object with a string "type".
std::variant<std::string_view, DecodeError> parse_envelope(rapidjson::Document& doc,
                                                           std::string_view payload) {
  if (auto error = json::parse(doc, payload)) {
    return fatal(ErrorCode::kBadPacket, "payload is " + *error);
  }
  if (!doc.IsObject()) {
    return fatal(ErrorCode::kBadPacket, "payload is not a JSON object");
  }
  const auto type = string_member(doc, "type");
  if (!type) {
    return fatal(ErrorCode::kBadPacket, "packet has no string \"type\"");
  }
  return *type;
}

std::optional<DecodeError> check_message(std::string_view message, const char* type,
                                         std::string& out);

// Reads and checks "message" into `out`; an error if it is missing or breaks the rules.
std::optional<DecodeError> decode_message_field(const Value& doc, const char* type,
                                                std::string& out) {
  // check_message checks UTF-8 (a \u escape can still make a lone surrogate) and
  // the message rule in one pass.
  const Value* v = find_member(doc, "message");
  if (v == nullptr || !v->IsString()) {
    return open(ErrorCode::kBadPacket, std::string(type) + " needs a string \"message\"");
  }
  return check_message({v->GetString(), v->GetStringLength()}, type, out);
}

// The rules for a message's text (the string's value, unescaped); on success `out`
// holds it. Shared by the DOM path and the chat fast path, so they cannot differ.
std::optional<DecodeError> check_message(std::string_view message, const char* type,
                                         std::string& out) {
  // Printable ASCII, the usual text, is settled in one pass the compiler vectorises
  // (no early exit); anything else is walked code point by code point below.
  unsigned char outside = 0;
  for (const char c : message) {
    const auto b = static_cast<unsigned char>(c);
    outside |= static_cast<unsigned char>(b < 0x20 || b >= 0x7f);
  }
  if (outside == 0 && !message.empty()) {
    out.assign(message);
    return std::nullopt;
  }
  bool control = message.empty();
  for (std::size_t i = 0; i < message.size();) {
    const auto b = static_cast<unsigned char>(message[i]);
    if (b < 0x80) {  // ASCII inline: most text is, and this loop runs per character
      control = control || is_control(b);
      ++i;
      continue;
    }
    const auto cp = next_code_point(message, i);
    if (!cp) {
      return open(ErrorCode::kBadPacket, std::string(type) + " \"message\" is not UTF-8");
    }
    control = control || is_control(*cp);
  }
  if (control) {
    return open(ErrorCode::kBadMessage,
                "message must be non-empty UTF-8 without control characters");
  }
  out.assign(message);
  return std::nullopt;
}

// The chat fast path. The common packet, {"type":"chat","message":"..."} (members in
// either order, JSON whitespace anywhere it is allowed), is read without a DOM: the
// one shape in which the DOM path's answer is known in advance. Anything else gives
// nullopt and takes the DOM path, whose answer is the definition: a byte outside
// printable ASCII (control, NUL, non-ASCII), a \u escape, other or repeated members,
// escaped keys, "type" not literally "chat", trailing text. What it accepts is ASCII
// without \u, so the DOM path would have parsed it without UTF-8 validation and
// produced the same string; the message's rules are the same function.
class ChatScanner {
 public:
  explicit ChatScanner(std::string_view s) : p_(s.data()), end_(s.data() + s.size()) {}

  std::optional<Decoded<ClientPacket>> scan() {
    skip_space();
    if (!take('{')) {
      return std::nullopt;
    }
    bool have_type = false;
    bool have_message = false;
    std::string unescaped;  // used only if the message has escapes
    std::string_view message;
    for (int member = 0; member < 2; ++member) {
      if (member == 1 && !take(',')) {
        return std::nullopt;
      }
      skip_space();
      if (!have_type && literal(R"("type")")) {
        if (!colon() || !literal(R"("chat")")) {
          return std::nullopt;
        }
        have_type = true;
      } else if (!have_message && literal(R"("message")")) {
        if (!colon() || !string(unescaped, message)) {
          return std::nullopt;
        }
        have_message = true;
      } else {
        return std::nullopt;
      }
      skip_space();
    }
    if (!take('}')) {
      return std::nullopt;
    }
    skip_space();
    if (p_ != end_) {
      return std::nullopt;
    }
    ChatRequest chat;
    if (auto error = check_message(message, "chat", chat.message)) {
      return Decoded<ClientPacket>(std::move(*error));
    }
    return Decoded<ClientPacket>(ClientPacket(std::move(chat)));
  }

 private:
  void skip_space() {
    while (p_ != end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) {
      ++p_;
    }
  }
  bool take(char c) {
    if (p_ == end_ || *p_ != c) {
      return false;
    }
    ++p_;
    return true;
  }
  bool literal(std::string_view text) {
    if (static_cast<std::size_t>(end_ - p_) < text.size() ||
        std::memcmp(p_, text.data(), text.size()) != 0) {
      return false;
    }
    p_ += text.size();
    return true;
  }
  bool colon() {
    skip_space();
    if (!take(':')) {
      return false;
    }
    skip_space();
    return true;
  }
  // A string of printable ASCII with the escapes other than \u: its value is
  // `value`, a view of the payload or, if it had escapes, of `out`.
  bool string(std::string& out, std::string_view& value) {
    if (!take('"')) {
      return false;
    }
    const char* const start = p_;
    const char* run = p_;
    bool escaped = false;
    while (p_ != end_) {
      // Skip eight plain bytes at a time: none ends the string, escapes or leaves ASCII.
      while (end_ - p_ >= 8 &&
             ((load8(p_) & kHighs) | static_cast<std::uint64_t>(needs_escape8(load8(p_)))) == 0) {
        p_ += 8;
      }
      if (p_ == end_) {
        break;
      }
      const auto c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        if (escaped) {
          out.append(run, static_cast<std::size_t>(p_ - run));
          value = out;
        } else {
          value = std::string_view(start, static_cast<std::size_t>(p_ - start));
        }
        ++p_;
        return true;
      }
      if (c < 0x20 || c >= 0x80) {
        return false;
      }
      if (c != '\\') {
        ++p_;
        continue;
      }
      escaped = true;
      out.append(run, static_cast<std::size_t>(p_ - run));
      if (++p_ == end_) {
        return false;
      }
      switch (*p_) {
        case '"':
        case '\\':
        case '/':
          out.push_back(*p_);
          break;
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'n':
          out.push_back('\n');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 't':
          out.push_back('\t');
          break;
        default:
          return false;  // \u (surrogates) and invalid escapes: the DOM path decides
      }
      run = ++p_;
    }
    return false;
  }

  const char* p_;
  const char* const end_;
};

}  // namespace

Decoded<ClientPacket> decode_client_dom(std::string_view payload);

Decoded<ClientPacket> decode_client(std::string_view payload) {
  if (auto chat = ChatScanner(payload).scan()) {
    return std::move(*chat);
  }
  return decode_client_dom(payload);
}

Decoded<ClientPacket> decode_client_dom(std::string_view payload) {
  // A chat packet's DOM fits in a few hundred bytes: a per-thread buffer saves
  // the 64 KiB chunk a default Document mallocs and frees per packet (larger
  // payloads spill into chunks of their own, freed with the Document).
  alignas(8) thread_local char pool_buffer[4096];
  rapidjson::MemoryPoolAllocator<> pool(pool_buffer, sizeof pool_buffer);
  rapidjson::Document doc(&pool);
  auto envelope = parse_envelope(doc, payload);
  if (auto* err = std::get_if<DecodeError>(&envelope)) {
    return std::move(*err);
  }
  const std::string_view type = std::get<std::string_view>(envelope);

  if (type == "hello") {
    Hello hello;
    const Value* caps = find_member(doc, "caps");
    if (caps != nullptr) {
      if (!caps->IsArray()) {
        return fatal(ErrorCode::kBadPacket, "hello \"caps\" must be a list of strings");
      }
      hello.caps.emplace();
      for (const auto& cap : caps->GetArray()) {
        const auto name = checked_string(cap);
        if (!name) {
          return fatal(ErrorCode::kBadPacket, "hello \"caps\" must be a list of strings");
        }
        hello.caps->emplace_back(*name);
      }
    }
    if (const Value* password = find_member(doc, "password"); password != nullptr) {
      // Checked before the nick, like caps: a structural fault. Any UTF-8 text
      // within the bound is a password (NULs included: it is hashed, not shown).
      const auto text = checked_string(*password);
      if (!text || text->empty() || text->size() > kMaxPassword) {
        return fatal(ErrorCode::kBadPacket, "hello \"password\" must be a string of 1-" +
                                                std::to_string(kMaxPassword) + " bytes");
      }
      hello.password.emplace(*text);
    }
    const auto nick = string_member(doc, "nick");
    if (!nick || !is_valid_nick(*nick)) {
      return fatal(ErrorCode::kNickInvalid,
                   "nick must be 1-32 characters without spaces, control characters or :/*@,#!");
    }
    hello.nick.assign(*nick);
    return hello;
  }
  if (type == "chat") {
    ChatRequest chat;
    auto r = decode_message_field(doc, "chat", chat.message);
    if (r) {
      return std::move(*r);
    }
    return chat;
  }
  if (type == "emote") {
    EmoteRequest emote;
    auto r = decode_message_field(doc, "emote", emote.message);
    if (r) {
      return std::move(*r);
    }
    return emote;
  }
  if (type == "dm") {
    const auto to = string_member(doc, "to");
    if (!to) {
      return open(ErrorCode::kBadPacket, "dm needs a string \"to\"");
    }
    if (!is_valid_nick(*to)) {
      // Checked here, like hello's nick: the text is never echoed back (it could
      // be 65 KB), and no user can hold a nick that breaks the rules.
      return open(ErrorCode::kNoSuchNick, "dm \"to\" is not a valid nick, so no user has it");
    }
    DmRequest dm;
    auto r = decode_message_field(doc, "dm", dm.message);
    if (r) {
      return std::move(*r);
    }
    dm.to.assign(*to);
    return dm;
  }
  if (type == "enter") {
    const auto room = string_member(doc, "room");
    if (!room) {
      return open(ErrorCode::kBadPacket, "enter needs a string \"room\"");
    }
    if (!is_valid_room(*room)) {
      return open(ErrorCode::kBadRoom,
                  "room must be 1-32 characters without spaces, control characters or :/*@,#!");
    }
    return EnterRequest{std::string(*room)};
  }
  if (type == "who") {
    return WhoRequest{};
  }
  if (type == "rooms") {
    return RoomsRequest{};
  }
  return open(ErrorCode::kUnknownType, "unknown packet type");
}

Decoded<ServerPacket> decode_server(std::string_view payload) {
  rapidjson::Document doc;
  auto envelope = parse_envelope(doc, payload);
  if (auto* err = std::get_if<DecodeError>(&envelope)) {
    return std::move(*err);
  }
  const std::string_view type = std::get<std::string_view>(envelope);
  const auto missing = [&](const char* what) {
    return open(ErrorCode::kBadPacket, std::string(type) + " needs a string \"" + what + "\"");
  };
  const auto room = [&]() -> std::optional<std::string> {
    if (auto r = string_member(doc, "room")) {
      return std::string(*r);
    }
    return std::nullopt;
  };

  if (type == "chat" || type == "emote") {
    const auto nick = string_member(doc, "nick");
    const auto message = string_member(doc, "message");
    if (!nick) {
      return missing("nick");
    }
    if (!message) {
      return missing("message");
    }
    const bool history = bool_member(doc, "history");
    if (type == "chat") {
      return Chat{std::string(*nick), std::string(*message), history, int_member(doc, "ts")};
    }
    return Emote{std::string(*nick), std::string(*message), history, int_member(doc, "ts")};
  }
  if (type == "join" || type == "leave") {
    const auto nick = string_member(doc, "nick");
    if (!nick) {
      return missing("nick");
    }
    if (type == "join") {
      return Join{std::string(*nick), room()};
    }
    Leave leave{std::string(*nick), room()};
    if (auto to = string_member(doc, "to")) {
      leave.to = std::string(*to);
    }
    return leave;
  }
  if (type == "dm") {
    const auto from = string_member(doc, "from");
    const auto to = string_member(doc, "to");
    const auto message = string_member(doc, "message");
    if (!from || !to || !message) {
      return missing(!from ? "from" : !to ? "to" : "message");
    }
    return Dm{std::string(*from), std::string(*to), std::string(*message), int_member(doc, "ts")};
  }
  if (type == "info") {
    const auto message = string_member(doc, "message");
    if (!message) {
      return missing("message");
    }
    return Info{std::string(*message)};
  }
  if (type == "error") {
    const auto code = string_member(doc, "code");
    const auto message = string_member(doc, "message");
    return Error{std::string(code.value_or("unknown")), std::string(message.value_or(""))};
  }
  if (type == "welcome") {
    Welcome w;
    w.nick = std::string(string_member(doc, "nick").value_or(""));
    w.server = std::string(string_member(doc, "server").value_or(""));
    w.room = room().value_or("lobby");
    const Value* caps = find_member(doc, "caps");
    if (caps != nullptr && caps->IsArray()) {
      for (const auto& c : caps->GetArray()) {
        if (const auto cap = checked_string(c)) {
          w.caps.emplace_back(*cap);
        }
      }
    }
    return w;
  }
  if (type == "who") {
    WhoReply who;
    who.room = room().value_or("");
    who.truncated = bool_member(doc, "truncated");
    const Value* nicks = find_member(doc, "nicks");
    if (nicks != nullptr && nicks->IsArray()) {
      for (const auto& n : nicks->GetArray()) {
        if (const auto nick = checked_string(n)) {
          who.nicks.emplace_back(*nick);
        }
      }
    }
    return who;
  }
  if (type == "rooms") {
    RoomsReply reply;
    reply.truncated = bool_member(doc, "truncated");
    const Value* rooms = find_member(doc, "rooms");
    if (rooms != nullptr && rooms->IsArray()) {
      for (const auto& r : rooms->GetArray()) {
        if (!r.IsObject()) {
          continue;
        }
        RoomInfo info;
        info.name = std::string(string_member(r, "name").value_or(""));
        const Value* users = find_member(r, "users");
        if (users != nullptr && users->IsUint64()) {
          info.users = users->GetUint64();
        }
        reply.rooms.push_back(std::move(info));
      }
    }
    return reply;
  }
  return open(ErrorCode::kUnknownType, "unknown packet type");
}

namespace {

// The JSON writer for outgoing packets. It writes the same bytes RapidJSON's
// Writer<StringBuffer> wrote (tests/unit/codec_test.cpp checks it against that on
// generated packets): no whitespace; in strings only '"', '\\' and U+0000..U+001F
// escaped (\b \t \n \f \r, else \u00XX in upper-case hex); every other byte, '/',
// DEL and non-ASCII (valid or not) copied as it is. Runs that need no escape are
// copied in one append, found eight bytes at a time, not per character.
class JsonOut {
 public:
  explicit JsonOut(std::string& out) : out_(out) {}

  void begin_object() { open('{'); }
  void end_object() { close('}'); }
  void begin_array() { open('['); }
  void end_array() { close(']'); }
  // `name` is one of the codec's own member names: nothing in it needs an escape.
  void key(std::string_view name) {
    char text[24];
    assert(name.size() <= sizeof text - 4);
    std::size_t n = 0;
    if (!first_) {
      text[n++] = ',';
    }
    text[n++] = '"';
    std::memcpy(text + n, name.data(), name.size());
    n += name.size();
    text[n++] = '"';
    text[n++] = ':';
    out_.append(text, n);
    first_ = true;  // the value follows without a comma
  }
  void string(std::string_view value) {
    separate();
    put_string(value);
  }
  void boolean(bool value) {
    separate();
    out_.append(value ? "true" : "false");
  }
  template <typename Int>
  void integer(Int value) {
    separate();
    char digits[24];
    const auto r = std::to_chars(digits, digits + sizeof digits, value);
    out_.append(digits, r.ptr);
  }

 private:
  void separate() {
    if (!first_) {
      out_.push_back(',');
    }
    first_ = false;
  }
  void open(char c) {
    separate();
    out_.push_back(c);
    first_ = true;
  }
  void close(char c) {
    out_.push_back(c);
    first_ = false;
  }

  static constexpr bool needs_escape(unsigned char c) { return c < 0x20 || c == '"' || c == '\\'; }

  void put_string(std::string_view s) {
    out_.push_back('"');
    const char* p = s.data();
    const char* const end = p + s.size();
    while (p != end) {
      const char* const run = p;
      while (end - p >= 8 && !needs_escape8(load8(p))) {
        p += 8;
      }
      while (p != end && !needs_escape(static_cast<unsigned char>(*p))) {
        ++p;
      }
      out_.append(run, static_cast<std::size_t>(p - run));
      if (p == end) {
        break;
      }
      put_escape(static_cast<unsigned char>(*p++));
    }
    out_.push_back('"');
  }
  void put_escape(unsigned char c) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    out_.push_back('\\');
    switch (c) {
      case '"':
      case '\\':
        out_.push_back(static_cast<char>(c));
        return;
      case '\b':
        out_.push_back('b');
        return;
      case '\t':
        out_.push_back('t');
        return;
      case '\n':
        out_.push_back('n');
        return;
      case '\f':
        out_.push_back('f');
        return;
      case '\r':
        out_.push_back('r');
        return;
      default: {
        const char u[] = {'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
        out_.append(u, sizeof u);
      }
    }
  }

  std::string& out_;
  bool first_ = true;
};

void put(JsonOut& w, std::string_view key, std::string_view value) {
  w.key(key);
  w.string(value);
}

void put_list(JsonOut& w, std::string_view key, const std::vector<std::string>& list) {
  w.key(key);
  w.begin_array();
  for (const auto& s : list) {
    w.string(s);
  }
  w.end_array();
}

void put_ts(JsonOut& w, const std::optional<std::int64_t>& ts) {
  if (ts) {
    w.key("ts");
    w.integer(*ts);
  }
}

struct ClientWriter {
  JsonOut& w;
  void operator()(const Hello& p) const {
    put(w, "type", "hello");
    put(w, "nick", p.nick);
    if (p.caps) {
      put_list(w, "caps", *p.caps);
    }
    if (p.password) {
      put(w, "password", *p.password);
    }
  }
  void operator()(const ChatRequest& p) const {
    put(w, "type", "chat");
    put(w, "message", p.message);
  }
  void operator()(const DmRequest& p) const {
    put(w, "type", "dm");
    put(w, "to", p.to);
    put(w, "message", p.message);
  }
  void operator()(const EmoteRequest& p) const {
    put(w, "type", "emote");
    put(w, "message", p.message);
  }
  void operator()(const WhoRequest&) const { put(w, "type", "who"); }
  void operator()(const EnterRequest& p) const {
    put(w, "type", "enter");
    put(w, "room", p.room);
  }
  void operator()(const RoomsRequest&) const { put(w, "type", "rooms"); }
};

struct ServerWriter {
  JsonOut& w;
  void operator()(const Welcome& p) const {
    put(w, "type", "welcome");
    put(w, "nick", p.nick);
    put(w, "server", p.server);
    put_list(w, "caps", p.caps);
    put(w, "room", p.room);
  }
  void operator()(const Chat& p) const {
    put(w, "type", "chat");
    put(w, "nick", p.nick);
    put(w, "message", p.message);
    if (p.history) {
      w.key("history");
      w.boolean(true);
    }
    put_ts(w, p.ts);
  }
  void operator()(const Join& p) const {
    put(w, "type", "join");
    put(w, "nick", p.nick);
    if (p.room) {
      put(w, "room", *p.room);
    }
  }
  void operator()(const Leave& p) const {
    put(w, "type", "leave");
    put(w, "nick", p.nick);
    if (p.room) {
      put(w, "room", *p.room);
    }
    if (p.to) {
      put(w, "to", *p.to);
    }
  }
  void operator()(const Dm& p) const {
    put(w, "type", "dm");
    put(w, "from", p.from);
    put(w, "to", p.to);
    put(w, "message", p.message);
    put_ts(w, p.ts);
  }
  void operator()(const Emote& p) const {
    put(w, "type", "emote");
    put(w, "nick", p.nick);
    put(w, "message", p.message);
    if (p.history) {
      w.key("history");
      w.boolean(true);
    }
    put_ts(w, p.ts);
  }
  void operator()(const WhoReply& p) const {
    put(w, "type", "who");
    put(w, "room", p.room);
    put_list(w, "nicks", p.nicks);
    if (p.truncated) {
      w.key("truncated");
      w.boolean(true);
    }
  }
  void operator()(const RoomsReply& p) const {
    put(w, "type", "rooms");
    w.key("rooms");
    w.begin_array();
    for (const auto& r : p.rooms) {
      w.begin_object();
      put(w, "name", r.name);
      w.key("users");
      w.integer(r.users);
      w.end_object();
    }
    w.end_array();
    if (p.truncated) {
      w.key("truncated");
      w.boolean(true);
    }
  }
  void operator()(const Info& p) const {
    put(w, "type", "info");
    put(w, "message", p.message);
  }
  void operator()(const Error& p) const {
    put(w, "type", "error");
    put(w, "code", p.code);
    put(w, "message", p.message);
  }
};

template <typename Visitor, typename Packet>
void write(std::string& out, const Packet& packet) {
  JsonOut w(out);
  w.begin_object();
  std::visit(Visitor{w}, packet);
  w.end_object();
}

}  // namespace

std::string encode(const ClientPacket& packet) {
  std::string out;
  write<ClientWriter>(out, packet);
  return out;
}
std::string encode(const ServerPacket& packet) {
  std::string out;
  write<ServerWriter>(out, packet);
  return out;
}

std::optional<Frame> encode_frame(const ServerPacket& packet) {
  // One buffer per thread, kept: encoding a broadcast mallocs nothing but the frame.
  thread_local std::string buffer;
  buffer.clear();
  write<ServerWriter>(buffer, packet);
  auto frame = Frame::make(buffer);
  if (buffer.capacity() > kMaxFrame) {
    std::string().swap(buffer);  // one oversize packet must not pin its size
  }
  return frame;
}

namespace {
// `live` with `member` (JSON text of one or more members) added before its '}'.
std::optional<std::string> with_member(std::string_view live, std::string_view member) {
  if (live.size() < 2 || live.front() != '{' || live.back() != '}') {
    return std::nullopt;
  }
  std::string out;
  out.reserve(live.size() + 1 + member.size());
  out.append(live.substr(0, live.size() - 1));
  if (live.size() > 2) {
    out.push_back(',');
  }
  out.append(member);
  out.push_back('}');
  return out;
}
}  // namespace

std::optional<std::string> as_history_payload(std::string_view live) {
  return with_member(live, R"("history":true)");
}

std::optional<std::string> with_ts_payload(std::string_view live, std::int64_t ts) {
  return with_member(live, "\"ts\":" + std::to_string(ts));
}

std::string encode_error(ErrorCode code, std::string_view message) {
  // The message may quote what a peer sent: bounded, so an error always fits in a
  // frame whatever it quotes (JSON escaping grows a byte at most to 6).
  return encode(ServerPacket{
      Error{std::string(error_name(code)), truncate_utf8(message, kMaxErrorText, " [truncated]")}});
}

}  // namespace chat::proto
