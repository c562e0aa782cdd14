// The Redis engine: nicks, presence, events, DMs and history shared by every
// chatd node on one redis-server (docs/CLUSTER.md has the keys and channels).
#include "daemon/redis_engine.hpp"

#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <iterator>

#include "daemon/hub.hpp"
#include "daemon/log_fields.hpp"
#include "protocol/codec.hpp"
#include "protocol/control.hpp"
#include "protocol/rules.hpp"

namespace chat::daemon {

namespace {

constexpr std::string_view kEvents = "chatd:events";
constexpr std::string_view kNodes = "chatd:nodes";
constexpr std::string_view kHistoryIndex = "chatd:history-index";
constexpr std::string_view kHistorySeq = "chatd:history-seq";
// A published batch starts with this field; then each envelope is a netstring.
constexpr std::string_view kBatchHeader = "2:b1,";
// A batch is sent before the end of its loop iteration once it holds this much.
constexpr std::size_t kMaxBatchEvents = 256;
constexpr std::size_t kMaxBatchBytes = std::size_t{256} * 1024;
constexpr std::size_t kMaxCachedRoomKeys = 4096;
constexpr std::string_view kOldHistoryRooms = "chatd:history-rooms";  // the first slice's index
constexpr std::chrono::milliseconds kMaxBackoff{5000};
constexpr std::string_view kDownText =
    "other chat nodes are unreachable: you can talk only with users on this server until they "
    "are back";
constexpr std::string_view kUpText = "other chat nodes are reachable again";

// A nick is this node's if the key is absent, already ours, or its owner's
// heartbeat key has expired (a dead node holds nothing).
constexpr const char* kClaim = R"(
local o = redis.call('GET', KEYS[1])
if o and o ~= ARGV[1] and redis.call('EXISTS', 'chatd:node:' .. o) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
return 1)";
// Deletes the nick only if `ARGV[1]` still holds it.
constexpr const char* kRelease = R"(
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0)";
// One loop iteration's room events (ARGV[6..]: room key, envelope; the key is
// empty for an event that is not a line), published as one batch (ARGV[5], then
// each envelope as a netstring). A line (chat, emote) is numbered (its envelope's
// last field, from KEYS[2]) and appended to its room's list, which is trimmed to
// ARGV[2] lines and expires ARGV[4] ms after its last line; the index (KEYS[1],
// room key -> time of its last line, ARGV[3]) drops a few rooms past that.
constexpr const char* kBatch = R"(
local parts, rooms, lines = {}, {}, 0
for i = 6, #ARGV, 2 do
  if ARGV[i] ~= '' then lines = lines + 1 end
end
local s = redis.call('INCRBY', KEYS[2], lines) - lines
for i = 6, #ARGV, 2 do
  local rk, m = ARGV[i], ARGV[i + 1]
  if rk ~= '' then
    s = s + 1
    local n = tostring(s)
    m = m .. #n .. ':' .. n .. ','
    redis.call('RPUSH', 'chatd:history:' .. rk, m)
    rooms[rk] = true
  end
  table.insert(parts, #m .. ':' .. m .. ',')
end
for rk in pairs(rooms) do
  local list = 'chatd:history:' .. rk
  redis.call('LTRIM', list, -tonumber(ARGV[2]), -1)
  redis.call('PEXPIRE', list, ARGV[4])
  redis.call('ZADD', KEYS[1], ARGV[3], rk)
end
if lines > 0 then
  local cutoff = '(' .. (tonumber(ARGV[3]) - tonumber(ARGV[4]))
  for _, r in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', cutoff, 'LIMIT', 0, 8)) do
    redis.call('ZREM', KEYS[1], r)
    redis.call('DEL', 'chatd:history:' .. r)
  end
end
redis.call('PUBLISH', ARGV[1], ARGV[5] .. table.concat(parts))
return 1)";
// A DM to the live node holding the nick: how many received it (0: nobody).
constexpr const char* kDirect = R"(
local o = redis.call('GET', KEYS[1])
if not o or o == ARGV[2] or redis.call('EXISTS', 'chatd:node:' .. o) == 0 then return 0 end
return redis.call('PUBLISH', 'chatd:dm:' .. o, ARGV[1]))";
// Nodes (registered, or named in ARGV[2..]) whose heartbeat key is gone.
constexpr const char* kDead = R"(
local seen, dead = {}, {}
local function check(n)
  if n ~= ARGV[1] and not seen[n] then
    seen[n] = true
    if redis.call('EXISTS', 'chatd:node:' .. n) == 0 then table.insert(dead, n) end
  end
end
for _, n in ipairs(redis.call('SMEMBERS', 'chatd:nodes')) do check(n) end
for i = 2, #ARGV do check(ARGV[i]) end
return dead)";
// One survivor clears a dead node's records: its members (returned) and its entry.
constexpr const char* kReap = R"(
if not redis.call('SET', 'chatd:reap:' .. ARGV[1], ARGV[2], 'NX', 'PX', ARGV[3]) then
  return false
end
local m = redis.call('HGETALL', 'chatd:members:' .. ARGV[1])
redis.call('DEL', 'chatd:members:' .. ARGV[1])
redis.call('SREM', 'chatd:nodes', ARGV[1])
return m)";
// This node's members as Redis last had them (a restart's leftovers), then cleared.
constexpr const char* kTakeMembers = R"(
local m = redis.call('HGETALL', KEYS[1])
redis.call('DEL', KEYS[1])
return m)";
// Every other live node with its members: node, {nick, room, ...}, ...
constexpr const char* kLoadMembers = R"(
local out = {}
for _, n in ipairs(redis.call('SMEMBERS', 'chatd:nodes')) do
  if n ~= ARGV[1] and redis.call('EXISTS', 'chatd:node:' .. n) == 1 then
    table.insert(out, n)
    table.insert(out, redis.call('HGETALL', 'chatd:members:' .. n))
  end
end
return out)";
// Every room's history: the newest line's number, then room key, {line, ...},
// ... (KEYS: the index, the counter, the first slice's set, folded into the
// index; ARGV: now and the TTL in ms). Rooms past the TTL are dropped.
constexpr const char* kLoadHistory = R"(
for _, r in ipairs(redis.call('SMEMBERS', KEYS[3])) do
  redis.call('ZADD', KEYS[1], 'NX', ARGV[1], r)
  redis.call('PEXPIRE', 'chatd:history:' .. r, ARGV[2])
end
redis.call('DEL', KEYS[3])
local cutoff = '(' .. (tonumber(ARGV[1]) - tonumber(ARGV[2]))
for _, r in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', cutoff)) do
  redis.call('ZREM', KEYS[1], r)
  redis.call('DEL', 'chatd:history:' .. r)
end
local out = {redis.call('GET', KEYS[2]) or '0'}
for _, r in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local lines = redis.call('LRANGE', 'chatd:history:' .. r, 0, -1)
  if #lines == 0 then
    redis.call('ZREM', KEYS[1], r)
  else
    table.insert(out, r)
    table.insert(out, lines)
  end
end
return out)";

constexpr const char* kScripts[] = {kClaim, kRelease,     kBatch,       kDirect,     kDead,
                                    kReap,  kTakeMembers, kLoadMembers, kLoadHistory};

bool is_string(const redisReply* r) {
  return r != nullptr && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS);
}
std::string_view text(const redisReply* r) {
  return std::string_view(r->str, r->len);
}
bool is_error(const redisReply* r) {
  return r != nullptr && r->type == REDIS_REPLY_ERROR;
}
// Redis does not have the script (SCRIPT FLUSH, or a replica promoted since).
bool is_noscript(const redisReply* r) {
  return is_error(r) && text(r).substr(0, 9) == "NOSCRIPT ";
}
std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
// Pairs of strings from an array reply (HGETALL); nullopt if it is not one.
std::optional<std::map<std::string, std::string>> string_pairs(const redisReply* r) {
  if (r == nullptr || r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0) {
    return std::nullopt;
  }
  std::map<std::string, std::string> out;
  for (std::size_t i = 0; i + 1 < r->elements; i += 2) {
    if (!is_string(r->element[i]) || !is_string(r->element[i + 1])) {
      return std::nullopt;
    }
    out.emplace(text(r->element[i]), text(r->element[i + 1]));
  }
  return out;
}

void put_field(std::string& out, std::string_view field) {
  out += std::to_string(field.size());
  out += ':';
  out += field;
  out += ',';
}

}  // namespace

std::string Envelope::encode_unsequenced() const {
  std::string out;
  out.reserve(native.size() + fallback.size() + moved.size() + origin.size() + room.size() +
              nick.size() + 80);
  put_field(out, "c2");
  put_field(out, origin);
  put_field(out, kind);
  put_field(out, room);
  put_field(out, nick);
  put_field(out, std::to_string(cap));
  put_field(out, ts ? std::to_string(*ts) : std::string());
  put_field(out, native);
  put_field(out, fallback);
  put_field(out, moved);
  return out;
}

std::string Envelope::encode() const {
  std::string out = encode_unsequenced();
  put_field(out, seq != 0 ? std::to_string(seq) : std::string());
  return out;
}

namespace {
// A frame another node (or its history list) hands this one to pass on: one of
// the packets room events and DMs are made of, as a client would decode it.
// Anything else (a node of another version, a hand-written PUBLISH) is bad
// input and never reaches a client.
bool is_relayable(const proto::Frame& frame) {
  const auto decoded = proto::decode_server(frame.payload());
  const auto* p = std::get_if<proto::ServerPacket>(&decoded);
  return p != nullptr &&
         (std::holds_alternative<proto::Chat>(*p) || std::holds_alternative<proto::Emote>(*p) ||
          std::holds_alternative<proto::Join>(*p) || std::holds_alternative<proto::Leave>(*p) ||
          std::holds_alternative<proto::Dm>(*p) || std::holds_alternative<proto::Info>(*p));
}

std::optional<std::string_view> next_field(std::string_view bytes, std::size_t& pos) {
  // A netstring ("LEN:BYTES,") at pos, which moves past it.
  std::size_t len = 0;
  const char* begin = bytes.data() + pos;
  const char* end = bytes.data() + bytes.size();
  const auto [p, ec] = std::from_chars(begin, end, len);
  if (ec != std::errc() || p == begin || p - begin > 7 || p == end || *p != ':') {
    return std::nullopt;
  }
  const std::size_t start = static_cast<std::size_t>(p - bytes.data()) + 1;
  if (len + 1 > bytes.size() - start || bytes[start + len] != ',') {
    return std::nullopt;
  }
  pos = start + len + 1;
  return bytes.substr(start, len);
}
}  // namespace

std::optional<EnvelopeView> EnvelopeView::decode(std::string_view bytes) {
  // c1: version .. fallback (9 fields); c2: and moved, seq (11).
  std::string_view fields[11];
  std::size_t count = 0;
  std::size_t pos = 0;
  while (pos < bytes.size()) {
    if (count == std::size(fields)) {
      return std::nullopt;
    }
    const auto field = next_field(bytes, pos);
    if (!field) {
      return std::nullopt;
    }
    fields[count++] = *field;
  }
  if (!(count == 9 && fields[0] == "c1") && !(count == 11 && fields[0] == "c2")) {
    return std::nullopt;
  }
  EnvelopeView e;
  e.origin = fields[1];
  e.kind = fields[2];
  e.room = fields[3];
  e.nick = fields[4];
  const auto cap = fields[5];
  if (std::from_chars(cap.data(), cap.data() + cap.size(), e.cap).ec != std::errc() ||
      e.cap > 255) {
    return std::nullopt;
  }
  if (!fields[6].empty()) {
    std::int64_t ts = 0;
    const auto t = fields[6];
    const auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), ts);
    if (ec != std::errc() || p != t.data() + t.size()) {
      return std::nullopt;
    }
    e.ts = ts;
  }
  e.native = fields[7];
  e.fallback = fields[8];
  if (count == 11) {
    e.moved = fields[9];
    const auto seq = fields[10];
    if (!seq.empty()) {
      const auto [p, ec] = std::from_chars(seq.data(), seq.data() + seq.size(), e.seq);
      if (ec != std::errc() || p != seq.data() + seq.size()) {
        return std::nullopt;
      }
    }
  }
  return e;
}

RedisEngine::RedisEngine(EventLoop& loop, RedisEngineConfig config)
    : loop_(loop),
      config_(std::move(config)),
      cmd_(std::make_unique<RedisConnection>(loop, "commands")),
      sub_(std::make_unique<RedisConnection>(loop, "subscription")) {
  set_history_limits(config_.history);
}

RedisEngine::~RedisEngine() {
  *alive_ = false;
  if (reconnect_timer_ != 0) {
    loop_.cancel_timer(reconnect_timer_);
  }
  if (heartbeat_timer_ != 0) {
    loop_.cancel_timer(heartbeat_timer_);
  }
  cmd_->close();
  sub_->close();
}

void RedisEngine::leave_cluster(std::chrono::milliseconds bound) {
  if (!linked()) {
    return;
  }
  auto done = std::make_shared<bool>(false);
  command({"DEL", key("node", config_.node), key("members", config_.node)});
  command({"SREM", std::string(kNodes), config_.node},
          [done](const redisReply* /*reply*/) { *done = true; });
  const auto deadline = loop_.now() + bound;
  while (!*done && linked() && loop_.now() < deadline) {
    loop_.run_once(std::chrono::milliseconds(50));
  }
  up_ = false;
}

std::string RedisEngine::key(std::string_view kind, std::string_view name) const {
  std::string k = "chatd:";
  k += kind;
  k += ':';
  k += name;
  return k;
}

bool RedisEngine::linked() const {
  return cmd_->connected() && connections_up_ == 2;
}

bool RedisEngine::command(const std::vector<std::string>& argv, ReplyFn done) {
  if (!batch_.empty()) {
    flush();  // a sender's room events before its DM, its leave's member update...
  }
  const auto gen = generation_;
  return cmd_->command(argv, [this, gen, alive = alive_, done = std::move(done),
                              name = argv.front()](const redisReply* reply) {
    if (!*alive || gen != generation_) {
      return;
    }
    if (is_error(reply)) {
      spdlog::error("event=redis-error command={} detail={}", name, log_value(text(reply)));
    }
    if (done) {
      done(reply);
    }
  });
}

namespace {
// Scripts whose calls hold a place in a sender's order (its room events, its
// DMs) go as EVAL with their text, always: an EVALSHA refused with NOSCRIPT
// (someone ran SCRIPT FLUSH) could only run again after what was sent behind it
// (a leave before the line said just before it). Redis finds the compiled script
// by the text's SHA1, so this costs the text's bytes (about 1.2 KB per batch, at
// most one batch per loop iteration), not a compile.
bool keeps_order(const char* script) {
  return script == kBatch || script == kDirect;
}
}  // namespace

std::shared_ptr<std::vector<std::string>> RedisEngine::script_argv(
    const char* script, std::vector<std::string> args) const {
  auto argv = std::make_shared<std::vector<std::string>>(std::move(args));
  const auto sha = keeps_order(script) ? shas_.end() : shas_.find(script);
  if (sha != shas_.end()) {
    argv->insert(argv->begin(), {std::string("EVALSHA"), sha->second});
  } else {
    argv->insert(argv->begin(), {std::string("EVAL"), std::string(script)});
  }
  return argv;
}

bool RedisEngine::send(std::shared_ptr<std::vector<std::string>> argv, const char* script,
                       ReplyFn on_reply) {
  if (!batch_.empty()) {
    flush();
  }
  const auto& sent = *argv;
  return cmd_->command(sent, [this, argv = std::move(argv), script, alive = alive_,
                              on_reply = std::move(on_reply)](const redisReply* reply) mutable {
    if (!*alive) {
      return;
    }
    if (is_noscript(reply) && argv->front() == "EVALSHA") {
      // Redis lost its scripts while connected: the text, this once (EVAL
      // caches it again). A reconnect loads every script before using it.
      spdlog::info("event=redis-noscript detail={}", log_value("script sent again as EVAL"));
      (*argv)[0] = "EVAL";
      (*argv)[1] = script;
      auto retry = std::move(on_reply);
      if (!send(std::move(argv), script, retry)) {
        retry(nullptr);
      }
      return;
    }
    on_reply(reply);
  });
}

bool RedisEngine::eval(const char* script, std::vector<std::string> args, ReplyFn done) {
  const auto gen = generation_;
  auto argv = script_argv(script, std::move(args));
  std::string name = argv->front();  // EVAL or EVALSHA
  return send(std::move(argv), script,
              [this, gen, name = std::move(name), done = std::move(done)](const redisReply* reply) {
                if (gen != generation_) {
                  return;
                }
                if (is_error(reply)) {
                  spdlog::error("event=redis-error command={} detail={}", name,
                                log_value(text(reply)));
                }
                if (done) {
                  done(reply);
                }
              });
}

void RedisEngine::ask(const char* script, std::vector<std::string> args,
                      std::function<bool(const redisReply*)> yes,
                      std::function<void(bool)> answer) {
  auto later = std::make_shared<std::function<void(bool)>>(std::move(answer));
  const bool sent = send(script_argv(script, std::move(args)), script,
                         [this, later, yes = std::move(yes)](const redisReply* reply) {
                           if (reply == nullptr) {
                             defer([later] { (*later)(false); });
                           } else {
                             (*later)(yes(reply));
                           }
                         });
  if (!sent) {
    (*later)(false);
  }
}

void RedisEngine::defer(std::function<void()> fn) {
  loop_.add_timer(loop_.now(), [fn = std::move(fn), alive = alive_] {
    if (*alive) {
      fn();
    }
  });
}

void RedisEngine::start() {
  heartbeat_timer_ =
      loop_.add_timer(loop_.now() + config_.presence_ttl / 3, [this] { heartbeat(); });
  connect();
}

void RedisEngine::connect() {
  ++generation_;
  connections_up_ = 0;
  const auto gen = generation_;
  for (auto* conn : {cmd_.get(), sub_.get()}) {
    std::string why;
    const bool started = conn->connect(
        config_.address, config_.connect_timeout,
        [this, gen](bool up, const std::string& reason) {
          if (gen == generation_) {
            on_connection(up, reason);
          }
        },
        why);
    if (!started) {
      went_down(why);
      return;
    }
  }
}

void RedisEngine::on_connection(bool up, const std::string& why) {
  if (!up) {
    went_down(why);
    return;
  }
  if (++connections_up_ == 2) {
    assert_presence();
  }
}

void RedisEngine::assert_presence() {
  const auto gen = generation_;
  if (!config_.password.empty()) {
    auto check = [this, gen](const redisReply* reply) {
      if (gen == generation_ && (reply == nullptr || is_error(reply))) {
        spdlog::error("event=redis-auth-failed address={}", log_value(config_.address.text));
        defer([this, gen] {
          if (gen == generation_) {
            went_down("AUTH refused");
          }
        });
      }
    };
    sub_->command({"AUTH", config_.password}, check);
    command({"AUTH", config_.password}, check);
  }
  // Named, so an operator's CLIENT LIST shows which node holds which connection.
  sub_->command({"CLIENT", "SETNAME", "chatd-" + config_.node + "-subscription"}, {});
  command({"CLIENT", "SETNAME", "chatd-" + config_.node + "-commands"});
  // Every script first, so that what follows can run them by SHA1.
  for (const char* script : kScripts) {
    command({"SCRIPT", "LOAD", script}, [this, script](const redisReply* r) {
      if (is_string(r)) {
        shas_[script] = std::string(text(r));
      }
    });
  }
  sub_->subscribe(
      {std::string(kEvents), key("dm", config_.node)},
      [this](std::string_view channel, std::string_view payload) { on_message(channel, payload); },
      [this, gen] {
        if (gen == generation_) {
          subscribed();
        }
      });
  const std::string ttl = std::to_string(config_.presence_ttl.count());
  command({"SET", key("node", config_.node), "1", "PX", ttl});
  command({"SADD", std::string(kNodes), config_.node});
  // What a previous run of this node left (or what left here while Redis was
  // away): nicks no local user holds any more are given back.
  eval(kTakeMembers, {"1", key("members", config_.node)}, [this](const redisReply* r) {
    if (auto old = string_pairs(r)) {
      for (const auto& [nick, room] : *old) {
        if (members_.count(nick) == 0) {
          eval(kRelease, {"1", key("nick", proto::nick_key(nick)), config_.node});
        }
      }
    }
  });
  if (!members_.empty()) {
    std::vector<std::string> hset{"HSET", key("members", config_.node)};
    for (const auto& [nick, room] : members_) {
      hset.push_back(nick);
      hset.push_back(room);
    }
    command(hset);
  }
  // The nicks this node's users hold: Redis's holder wins a conflict (another
  // node took the nick while this one was cut off), and the local user goes.
  for (const auto& nick_key : nicks_) {
    eval(kClaim, {"1", key("nick", nick_key), config_.node}, [this, nick_key](const redisReply* r) {
      if (r != nullptr && r->type == REDIS_REPLY_INTEGER && r->integer == 0) {
        spdlog::warn("event=nick-conflict nick_key={} rule=redis-holder-wins", log_value(nick_key));
        nicks_.erase(nick_key);
        if (hub_ != nullptr) {
          hub_->drop_nick(nick_key);
        }
      }
    });
  }
}

void RedisEngine::subscribed() {
  // From here on everything published reaches this node, so what is loaded now
  // misses nothing; what arrives both ways is sorted out: by the history's
  // sequence numbers (load_history), and for members by applying the joins and
  // parts that arrived during the load again to the loaded lists (each sets or
  // clears one nick, so the newest one wins either way).
  loading_members_ = true;
  member_events_.clear();
  eval(kLoadMembers, {"0", config_.node}, [this](const redisReply* r) {
    const auto events = std::move(member_events_);
    member_events_.clear();
    loading_members_ = false;
    if (r == nullptr || r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0) {
      bad_input("members reply");
      return;
    }
    std::map<std::string, std::map<std::string, std::string>> live;
    for (std::size_t i = 0; i + 1 < r->elements; i += 2) {
      if (is_string(r->element[i])) {
        live[std::string(text(r->element[i]))] =
            string_pairs(r->element[i + 1]).value_or(std::map<std::string, std::string>{});
      }
    }
    // Before anyone is told who left: a join that crossed the load is no leave.
    for (const auto& e : events) {
      apply_member_event(live, e);
    }
    for (auto& [node, members] : live) {
      on_remote_members(node, std::move(members));
    }
    for (auto it = remote_.begin(); it != remote_.end();) {
      if (live.count(it->first) == 0) {
        const std::string node = it->first;
        ++it;
        on_remote_members(node, {});
        remote_.erase(node);
      } else {
        ++it;
      }
    }
  });
  loading_ = true;
  pending_.clear();
  eval(kLoadHistory,
       {"3", std::string(kHistoryIndex), std::string(kHistorySeq), std::string(kOldHistoryRooms),
        std::to_string(now_ms()), std::to_string(config_.history_ttl.count())},
       [this](const redisReply* r) { load_history(r); });
  Envelope reset;
  reset.origin = config_.node;
  reset.kind = "reset";
  command({"PUBLISH", std::string(kEvents), reset.encode()}, [this](const redisReply* r) {
    if (r == nullptr || is_error(r)) {
      return;
    }
    up_ = true;
    was_up_ = true;
    backoff_ = std::chrono::milliseconds(100);
    spdlog::info("event=redis-connected address={} node={} nodes={}",
                 log_value(config_.address.text), log_value(config_.node), remote_.size() + 1);
    if (told_down_) {
      told_down_ = false;
      if (hub_ != nullptr) {
        hub_->say(kUpText);
      }
    }
    if (on_state_change_) {
      on_state_change_();
    }
  });
}

void RedisEngine::went_down(const std::string& why) {
  const bool was = up_;
  up_ = false;
  loading_ = false;
  pending_.clear();
  loading_members_ = false;
  member_events_.clear();
  node_reloads_.clear();
  ++generation_;
  connections_up_ = 0;
  cmd_->close();
  sub_->close();
  if (was) {
    spdlog::warn("event=redis-down address={} detail={}", log_value(config_.address.text),
                 log_value(why));
    if (hub_ != nullptr && !told_down_) {
      told_down_ = true;
      hub_->say(kDownText);
    }
    if (on_state_change_) {
      on_state_change_();
    }
  } else {
    spdlog::debug("event=redis-connect-failed address={} detail={} retry_ms={}",
                  log_value(config_.address.text), log_value(why), backoff_.count());
  }
  schedule_reconnect();
}

void RedisEngine::schedule_reconnect() {
  if (reconnect_timer_ != 0) {
    return;
  }
  reconnect_timer_ = loop_.add_timer(loop_.now() + backoff_, [this] {
    reconnect_timer_ = 0;
    connect();
  });
  backoff_ = std::min(backoff_ * 2, kMaxBackoff);
}

void RedisEngine::heartbeat() {
  heartbeat_timer_ =
      loop_.add_timer(loop_.now() + config_.presence_ttl / 3, [this] { heartbeat(); });
  if (!up_) {
    heartbeat_pending_ = false;
    return;
  }
  if (heartbeat_pending_) {
    // A Redis that keeps the connection but stopped answering (stopped,
    // swapping, wedged) is as unreachable as a closed one.
    heartbeat_pending_ = false;
    went_down("Redis did not answer the last heartbeat");
    return;
  }
  heartbeat_pending_ = true;
  command(
      {"SET", key("node", config_.node), "1", "PX", std::to_string(config_.presence_ttl.count())},
      [this](const redisReply* /*reply*/) { heartbeat_pending_ = false; });
  std::vector<std::string> dead{"0", config_.node};
  for (const auto& [node, members] : remote_) {
    dead.push_back(node);
  }
  eval(kDead, std::move(dead), [this](const redisReply* r) {
    if (r == nullptr || r->type != REDIS_REPLY_ARRAY) {
      return;
    }
    for (std::size_t i = 0; i < r->elements; ++i) {
      if (is_string(r->element[i])) {
        reap(std::string(text(r->element[i])));
      }
    }
  });
}

void RedisEngine::reap(const std::string& dead) {
  // Every node tells its own users who left with the dead node; one of them
  // (the SET NX winner) clears the dead node's records and nicks in Redis.
  if (remote_.count(dead) != 0) {
    spdlog::info("event=node-dead node={} users={}", log_value(dead), remote_[dead].size());
    on_remote_members(dead, {});
    remote_.erase(dead);
  }
  eval(kReap, {"0", dead, config_.node, std::to_string(config_.presence_ttl.count())},
       [this, dead](const redisReply* r) {
         auto members = string_pairs(r);
         if (!members) {
           return;  // another node reaps it
         }
         for (const auto& [nick, room] : *members) {
           eval(kRelease, {"1", key("nick", proto::nick_key(nick)), dead});
         }
         spdlog::info("event=node-reaped node={} users={}", log_value(dead), members->size());
       });
}

void RedisEngine::on_remote_members(const std::string& node,
                                    std::map<std::string, std::string> members) {
  auto& known = remote_[node];
  if (hub_ != nullptr) {
    for (const auto& [nick, room] : known) {
      if (members.count(nick) == 0) {
        hub_->remote_left(room, nick);
      }
    }
  }
  known = std::move(members);
}

void RedisEngine::apply_member_event(
    std::map<std::string, std::map<std::string, std::string>>& nodes, const MemberEvent& e) {
  if (e.joined) {
    nodes[e.node][e.nick] = e.room;
  } else if (auto it = nodes.find(e.node); it != nodes.end()) {
    it->second.erase(e.nick);
  }
}

void RedisEngine::load_history(const redisReply* r) {
  std::vector<PendingLine> pending = std::move(pending_);
  pending_.clear();
  loading_ = false;
  std::uint64_t newest = 0;
  if (r == nullptr || r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 1 ||
      !is_string(r->element[0]) ||
      std::from_chars(r->element[0]->str, r->element[0]->str + r->element[0]->len, newest).ec !=
          std::errc()) {
    bad_input("history reply");
    return;
  }
  std::set<std::string> loaded;
  for (std::size_t i = 1; i + 1 < r->elements; i += 2) {
    const redisReply* lines = r->element[i + 1];
    if (!is_string(r->element[i]) || lines->type != REDIS_REPLY_ARRAY) {
      bad_input("history room");
      continue;
    }
    const std::string room_key(text(r->element[i]));
    mirror_.room_emptied(room_key);
    loaded.insert(room_key);
    for (std::size_t j = 0; j < lines->elements; ++j) {
      const redisReply* line = lines->element[j];
      auto env = is_string(line) ? EnvelopeView::decode(text(line)) : std::nullopt;
      auto native = env ? proto::Frame::make(env->native) : std::nullopt;
      auto fallback = env ? proto::Frame::make(env->fallback) : std::nullopt;
      if (!native || !env->ts || !is_relayable(*native) || (fallback && !is_relayable(*fallback))) {
        bad_input("history line");
        continue;
      }
      mirror_.remember(room_key, *native, fallback ? &*fallback : nullptr, *env->ts);
    }
  }
  // The lines that arrived during the load: in the mirror already, but a
  // loaded room's list replaced them. Put back those the list did not have:
  // this node's own (said after the load, on the same connection) and the
  // others' numbered after it. Others' lines from before the load that arrive
  // later still are in the list: mirror_line() skips them.
  const std::uint64_t loaded_seq = newest;
  for (const auto& line : pending) {
    if (line.seq > loaded_seq) {
      newest = std::max(newest, line.seq);
    }
    if (loaded.count(line.room_key) != 0 && (line.seq == 0 || line.seq > loaded_seq)) {
      mirror_.remember(line.room_key, line.native, line.fallback ? &*line.fallback : nullptr,
                       line.ts);
    }
  }
  history_seq_ = newest;
}

void RedisEngine::bad_input(std::string_view what) {
  ++bad_inputs_;
  if (bad_inputs_ <= 10 || bad_inputs_ % 1000 == 0) {
    spdlog::warn("event=redis-bad-input detail={} count={}", log_value(what), bad_inputs_);
  }
}

void RedisEngine::on_message(std::string_view /*channel*/, std::string_view payload) {
  if (payload.substr(0, kBatchHeader.size()) != kBatchHeader) {
    on_envelope(payload);
    return;
  }
  // A batch: one loop iteration's events of one node, in order.
  std::size_t pos = kBatchHeader.size();
  while (pos < payload.size()) {
    const auto inner = next_field(payload, pos);
    if (!inner) {
      bad_input("batch");
      return;
    }
    on_envelope(*inner);
  }
}

void RedisEngine::on_envelope(std::string_view payload) {
  auto env = EnvelopeView::decode(payload);
  if (!env) {
    bad_input("envelope");
    return;
  }
  if (env->origin == config_.node) {
    return;  // this node's own publication: already delivered here
  }
  if (env->kind == "join" || env->kind == "part") {
    if (!proto::is_valid_nick(env->nick) || !proto::is_valid_room(env->room)) {
      bad_input("member");
      return;
    }
    const MemberEvent member{std::string(env->origin), std::string(env->nick),
                             std::string(env->room), env->kind == "join"};
    apply_member_event(remote_, member);
    if (loading_members_) {
      member_events_.push_back(member);
    }
    if (auto it = node_reloads_.find(member.node); it != node_reloads_.end()) {
      it->second.events.push_back(member);
    }
    if (env->native.empty()) {
      return;
    }
    // A join or part with its room event: delivered below, like any event.
  }
  if (env->kind == "reset") {
    // The list is read on the command connection while the node's joins and
    // parts keep coming on this one: those that cross the reply are applied
    // again to it (each sets or clears one nick, so the newest one wins), as
    // for this node's own load in subscribed().
    const std::string node(env->origin);
    ++node_reloads_[node].asked;
    const bool sent = command({"HGETALL", key("members", node)}, [this, node](const redisReply* r) {
      // (Only in this connection's generation: a reconnect loads every node.)
      const auto it = node_reloads_.find(node);
      if (it == node_reloads_.end()) {
        return;
      }
      auto members = string_pairs(r);
      if (members) {
        std::map<std::string, std::map<std::string, std::string>> read{{node, std::move(*members)}};
        for (const auto& e : it->second.events) {
          apply_member_event(read, e);
        }
        on_remote_members(node, std::move(read[node]));
      }
      if (--it->second.asked == 0) {
        node_reloads_.erase(it);
      }
    });
    if (!sent) {
      if (const auto it = node_reloads_.find(node);
          it != node_reloads_.end() && --it->second.asked == 0) {
        node_reloads_.erase(it);
      }
    }
    return;
  }
  if (env->kind == "kick" || env->kind == "say") {
    // The operator's kick and say, from a node's control socket: held to the
    // control socket's own rules for them.
    const bool valid =
        env->kind == "kick"
            ? env->native.empty() || (proto::is_valid_message(env->native) &&
                                      env->native.size() <= proto::kMaxKickReason)
            : proto::is_valid_message(env->native) && env->native.size() <= proto::kMaxSayMessage;
    if (!valid) {
      bad_input(env->kind == "kick" ? "kick reason" : "say message");
      return;
    }
    if (hub_ != nullptr && env->kind == "kick") {
      hub_->kick(env->nick, env->native);
    } else if (hub_ != nullptr) {
      hub_->say(env->native);
    }
    return;
  }
  if (env->kind != "ev" && env->kind != "dm" && env->kind != "join" && env->kind != "part") {
    bad_input("kind");
    return;
  }
  auto native = proto::Frame::make(env->native);
  auto fallback = env->fallback.empty() ? std::nullopt : proto::Frame::make(env->fallback);
  auto moved = env->moved.empty() ? std::nullopt : proto::Frame::make(env->moved);
  if (!native || (!env->fallback.empty() && !fallback) || (!env->moved.empty() && !moved) ||
      (env->cap != 0 && (env->cap & (env->cap - 1)) != 0) || !is_relayable(*native) ||
      (fallback && !is_relayable(*fallback)) || (moved && !is_relayable(*moved))) {
    bad_input("event");
    return;
  }
  const RoomEvent event{&*native, fallback ? &*fallback : nullptr, env->cap, env->ts,
                        moved ? &*moved : nullptr};
  if (env->kind == "dm") {
    if (hub_ != nullptr) {
      hub_->deliver_direct(std::string(env->room), event);
    }
    return;
  }
  if (!proto::is_valid_room(env->room)) {
    bad_input("room");
    return;
  }
  const std::string room(env->room);
  if (hub_ != nullptr) {
    hub_->deliver(room, event);
  }
  if (env->ts) {
    mirror_line(cached_room_key(room), *native, fallback ? &*fallback : nullptr, *env->ts,
                env->seq);
  }
}

std::vector<Engine::RemoteUser> RedisEngine::remote_users() const {
  std::vector<RemoteUser> out;
  for (const auto& [node, members] : remote_) {
    for (const auto& [nick, room] : members) {
      out.push_back({node, nick, room});
    }
  }
  return out;
}

bool RedisEngine::kick_elsewhere(std::string_view nick, std::string_view reason) {
  if (!linked()) {
    return false;
  }
  const std::string wanted = proto::nick_key(nick);
  for (const auto& [node, members] : remote_) {
    for (const auto& [held, room] : members) {
      if (proto::nick_key(held) == wanted) {
        Envelope e;
        e.origin = config_.node;
        e.kind = "kick";
        e.nick = held;
        e.native = std::string(reason);
        command({"PUBLISH", key("dm", node), e.encode()});
        return true;
      }
    }
  }
  return false;
}

std::size_t RedisEngine::say_elsewhere(std::string_view message) {
  if (!linked()) {
    return 0;
  }
  Envelope e;
  e.origin = config_.node;
  e.kind = "say";
  e.native = std::string(message);
  command({"PUBLISH", std::string(kEvents), e.encode()});
  std::size_t users = 0;
  for (const auto& [node, members] : remote_) {
    users += members.size();
  }
  return users;
}

std::map<std::string, std::size_t> RedisEngine::remote_nodes() const {
  std::map<std::string, std::size_t> out;
  for (const auto& [node, members] : remote_) {
    out[node] = members.size();
  }
  return out;
}

void RedisEngine::claim_nick(const std::string& nick_key, ClaimDone done) {
  if (!up_) {
    done(false);
    return;
  }
  ask(
      kClaim, {"1", key("nick", nick_key), config_.node},
      [this, nick_key](const redisReply* r) {
        const bool claimed = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
        if (claimed) {
          nicks_.insert(nick_key);
        }
        return claimed;
      },
      std::move(done));
}

void RedisEngine::release_nick(const std::string& nick_key) {
  nicks_.erase(nick_key);
  if (linked()) {
    eval(kRelease, {"1", key("nick", nick_key), config_.node});
  }
}

Envelope RedisEngine::envelope(std::string_view kind, const std::string& room,
                               const std::string& nick, const RoomEvent& event) const {
  Envelope e;
  e.origin = config_.node;
  e.kind = std::string(kind);
  e.room = room;
  e.nick = nick;
  if (event.native != nullptr) {
    e.cap = event.cap;
    e.ts = event.ts;
    e.native = std::string(event.native->payload());
    if (event.fallback != nullptr) {
      e.fallback = std::string(event.fallback->payload());
    }
    if (event.moved != nullptr) {
      e.moved = std::string(event.moved->payload());
    }
  }
  return e;
}

void RedisEngine::member_joined(const std::string& room, const std::string& nick,
                                const RoomEvent& announce) {
  members_[nick] = room;
  if (linked()) {
    command({"HSET", key("members", config_.node), nick, room});
    // The member and the room's `join` event: one publish.
    command({"PUBLISH", std::string(kEvents), envelope("join", room, nick, announce).encode()});
  }
}

void RedisEngine::member_left(const std::string& room, const std::string& nick,
                              const RoomEvent& announce) {
  members_.erase(nick);
  if (linked()) {
    command({"HDEL", key("members", config_.node), nick});
    // The member and the room's `leave` event (its `to` form too): one publish.
    command({"PUBLISH", std::string(kEvents), envelope("part", room, nick, announce).encode()});
  }
}

void RedisEngine::remote_members(const std::string& room,
                                 std::function<void(std::vector<std::string>)> done) {
  const std::string wanted = proto::room_key(room);
  std::vector<std::string> out;
  for (const auto& [node, members] : remote_) {
    for (const auto& [nick, in] : members) {
      if (in == room || proto::room_key(in) == wanted) {
        out.push_back(nick);
      }
    }
  }
  done(std::move(out));
}

void RedisEngine::remote_rooms(
    std::function<void(std::vector<std::pair<std::string, std::size_t>>)> done) {
  std::map<std::string, std::size_t> counts;
  for (const auto& [node, members] : remote_) {
    for (const auto& [nick, room] : members) {
      ++counts[room];
    }
  }
  done({counts.begin(), counts.end()});
}

void RedisEngine::publish(const std::string& room, const RoomEvent& event) {
  if (!linked() || event.native == nullptr) {
    return;
  }
  const Envelope e = envelope("ev", room, {}, event);
  // Gathered until the end of this loop iteration (flush()): a burst of lines costs
  // one script call and one PUBLISH, not one each. A line (chat, emote: the events
  // with a time) is history too, numbered and appended to its room's list there.
  if (!event.ts || limits_.lines == 0) {
    batch_.push_back({std::string(), e.encode()});
  } else {
    batch_.push_back({cached_room_key(room), e.encode_unsequenced()});
    batch_ts_ = std::max(batch_ts_, *event.ts);
  }
  batch_bytes_ += batch_.back().envelope.size() + batch_.back().room_key.size();
  if (batch_.size() >= kMaxBatchEvents || batch_bytes_ >= kMaxBatchBytes) {
    flush();
  }
}

void RedisEngine::flush() {
  if (batch_.empty()) {
    return;
  }
  std::vector<Batched> items;
  items.swap(batch_);
  const std::int64_t ts = batch_ts_;
  batch_bytes_ = 0;
  batch_ts_ = 0;
  if (!linked()) {
    return;  // as publish() does when Redis is away: other nodes miss these
  }
  std::vector<std::string> args;
  args.reserve(8 + 2 * items.size());
  args.insert(args.end(), {"2", std::string(kHistoryIndex), std::string(kHistorySeq),
                           std::string(kEvents), std::to_string(limits_.lines), std::to_string(ts),
                           std::to_string(config_.history_ttl.count()), std::string(kBatchHeader)});
  for (auto& item : items) {
    args.push_back(std::move(item.room_key));
    args.push_back(std::move(item.envelope));
  }
  eval(kBatch, std::move(args));
}

const std::string& RedisEngine::cached_room_key(const std::string& room) {
  // The key is ICU work (NFKC, case fold, skeleton) that a flood of lines would
  // repeat for the same few rooms.
  if (room_keys_.size() > kMaxCachedRoomKeys) {
    room_keys_.clear();
  }
  auto it = room_keys_.find(room);
  if (it == room_keys_.end()) {
    it = room_keys_.emplace(room, proto::room_key(room)).first;
  }
  return it->second;
}

void RedisEngine::direct(const std::string& to_key, const RoomEvent& event,
                         std::function<void(bool delivered)> done) {
  if (!linked() || event.native == nullptr) {
    done(false);
    return;
  }
  ask(
      kDirect, {"1", key("nick", to_key), envelope("dm", to_key, {}, event).encode(), config_.node},
      [](const redisReply* r) { return r->type == REDIS_REPLY_INTEGER && r->integer > 0; },
      std::move(done));
}

void RedisEngine::set_history_limits(HistoryLimits limits) {
  limits_ = limits;
  mirror_.set_history_limits(limits);
}

void RedisEngine::remember(const std::string& room, const proto::Frame& live,
                           const proto::Frame* fallback, std::int64_t ts) {
  // Redis gets the line with its publication; this is the node's mirror.
  mirror_line(cached_room_key(room), live, fallback, ts, 0);
}

void RedisEngine::mirror_line(const std::string& room_key, const proto::Frame& native,
                              const proto::Frame* fallback, std::int64_t ts, std::uint64_t seq) {
  if (loading_) {
    pending_.push_back({room_key, native,
                        fallback != nullptr ? std::optional<proto::Frame>(*fallback) : std::nullopt,
                        ts, seq});
  } else if (seq != 0) {
    if (seq <= history_seq_) {
      return;  // published before the history load, which had it already
    }
    history_seq_ = seq;
  }
  mirror_.remember(room_key, native, fallback, ts);
}

void RedisEngine::replay(const std::string& room, bool emote_cap, bool time_cap,
                         std::size_t max_bytes,
                         const std::function<void(const proto::Frame&)>& send) {
  mirror_.replay(proto::room_key(room), emote_cap, time_cap, max_bytes, send);
}

void RedisEngine::room_emptied(const std::string& /*room*/) {
  // The room lives on in Redis and on other nodes: its history stays mirrored.
}

}  // namespace chat::daemon
