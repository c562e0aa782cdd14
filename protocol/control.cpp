// Control envelope codec: RapidJSON parsing with result codes, streaming reply writer.
#include "protocol/control.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <array>
#include <utility>

#include "protocol/json.hpp"
#include "protocol/rules.hpp"

namespace chat::proto {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

constexpr std::array<std::pair<ControlCommand, std::string_view>, 10> kCommandNames{{
    {ControlCommand::kStatus, "status"},
    {ControlCommand::kWho, "who"},
    {ControlCommand::kKick, "kick"},
    {ControlCommand::kSay, "say"},
    {ControlCommand::kVersion, "version"},
    {ControlCommand::kListCommands, "list-commands"},
    {ControlCommand::kAccountAdd, "account-add"},
    {ControlCommand::kAccountDel, "account-del"},
    {ControlCommand::kAccountPasswd, "account-passwd"},
    {ControlCommand::kAccountList, "account-list"},
}};

bool takes_nick(ControlCommand c) {
  return c == ControlCommand::kAccountAdd || c == ControlCommand::kAccountDel ||
         c == ControlCommand::kAccountPasswd;
}
bool takes_hash(ControlCommand c) {
  return c == ControlCommand::kAccountAdd || c == ControlCommand::kAccountPasswd;
}

rapidjson::SizeType json_size(std::string_view s) {
  return static_cast<rapidjson::SizeType>(s.size());
}

ControlRequestError request_error(std::string type, std::string_view result, std::string message) {
  return ControlRequestError{std::move(type), result, std::move(message)};
}

// A string member, nullopt if absent; `present_but_wrong` tells a mistyped one apart.
std::optional<std::string> string_member(const rapidjson::Value& obj, const char* name,
                                         bool& present_but_wrong) {
  present_but_wrong = false;
  const rapidjson::Value* v = json::find_member(obj, name);
  if (v == nullptr) {
    return std::nullopt;
  }
  const auto s = json::checked_string(*v);
  if (!s) {
    present_but_wrong = true;  // not a string, or not UTF-8 (a lone surrogate escape)
    return std::nullopt;
  }
  return std::string(*s);
}

}  // namespace

std::string_view control_command_name(ControlCommand command) {
  for (const auto& [c, name] : kCommandNames) {
    if (c == command) {
      return name;
    }
  }
  return "unknown";
}

std::optional<ControlCommand> control_command_from_name(std::string_view name) {
  for (const auto& [c, n] : kCommandNames) {
    if (n == name) {
      return c;
    }
  }
  return std::nullopt;
}

const std::vector<ControlCommand>& control_commands() {
  static const std::vector<ControlCommand> commands = [] {
    std::vector<ControlCommand> v;
    v.reserve(kCommandNames.size());
    for (const auto& entry : kCommandNames) {
      v.push_back(entry.first);
    }
    return v;
  }();
  return commands;
}

std::variant<ControlRequest, ControlRequestError> parse_control_request(std::string_view payload) {
  using namespace control_result;
  const std::string error_type(kControlErrorType);
  rapidjson::Document doc;
  if (auto error = json::parse(doc, payload)) {
    return request_error(error_type, kBadRequest, "request is " + *error);
  }
  if (!doc.IsObject()) {
    return request_error(error_type, kBadRequest, "request is not a JSON object");
  }
  bool wrong = false;
  const auto type = string_member(doc, "type", wrong);
  if (!type) {
    return request_error(error_type, kBadRequest, "request has no string \"type\"");
  }
  const auto command = control_command_from_name(*type);
  if (!command) {
    return request_error(*type, kUnknownCommand,
                         "unknown command; list-commands shows the known ones");
  }
  ControlRequest request;
  request.command = *command;
  if (*command == ControlCommand::kKick) {
    auto nick = string_member(doc, "nick", wrong);
    if (!nick) {
      return request_error(*type, kBadRequest, "kick needs a string \"nick\"");
    }
    request.nick = std::move(*nick);
    request.reason = string_member(doc, "reason", wrong);
    if (wrong) {
      return request_error(*type, kBadRequest, "kick \"reason\" must be a string");
    }
    if (request.reason && !is_valid_message(*request.reason)) {
      return request_error(*type, kBadMessage,
                           "reason must be non-empty text without control characters");
    }
    if (request.reason && request.reason->size() > kMaxKickReason) {
      return request_error(
          *type, kBadMessage,
          "reason is too long (at most " + std::to_string(kMaxKickReason) + " bytes)");
    }
  } else if (*command == ControlCommand::kSay) {
    auto message = string_member(doc, "message", wrong);
    if (!message) {
      return request_error(*type, kBadRequest, "say needs a string \"message\"");
    }
    if (!is_valid_message(*message)) {
      return request_error(*type, kBadMessage,
                           "message must be non-empty text without control characters");
    }
    if (message->size() > kMaxSayMessage) {
      return request_error(
          *type, kBadMessage,
          "message is too long (at most " + std::to_string(kMaxSayMessage) + " bytes)");
    }
    request.message = std::move(*message);
  } else if (takes_nick(*command)) {
    auto nick = string_member(doc, "nick", wrong);
    if (!nick) {
      return request_error(*type, kBadRequest, *type + " needs a string \"nick\"");
    }
    if (!is_valid_nick(*nick)) {
      // Not quoted back: it may be long or hold anything.
      return request_error(*type, kBadRequest,
                           "not a valid nick (1-32 characters, no spaces, controls or :/*@,#!, "
                           "no look-alike tricks)");
    }
    request.nick = std::move(*nick);
    if (takes_hash(*command)) {
      auto hash = string_member(doc, "hash", wrong);
      if (!hash || hash->empty() || hash->size() > kMaxAccountHash) {
        return request_error(*type, kBadRequest,
                             *type + " needs a string \"hash\" of 1-" +
                                 std::to_string(kMaxAccountHash) + " bytes (an Argon2id string)");
      }
      request.hash = std::move(*hash);
    }
  }
  return request;
}

std::string encode_control_request(const ControlRequest& request) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  const auto name = control_command_name(request.command);
  w.Key("type");
  w.String(name.data(), json_size(name));
  if (request.command == ControlCommand::kKick) {
    w.Key("nick");
    w.String(request.nick.data(), json_size(request.nick));
    if (request.reason) {
      w.Key("reason");
      w.String(request.reason->data(), json_size(*request.reason));
    }
  } else if (request.command == ControlCommand::kSay) {
    w.Key("message");
    w.String(request.message.data(), json_size(request.message));
  } else if (takes_nick(request.command)) {
    w.Key("nick");
    w.String(request.nick.data(), json_size(request.nick));
    if (takes_hash(request.command)) {
      w.Key("hash");
      w.String(request.hash.data(), json_size(request.hash));
    }
  }
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

struct ControlReply::Impl {
  rapidjson::StringBuffer buf;
  Writer w{buf};
  void key(std::string_view k) { w.Key(k.data(), json_size(k)); }
  void string(std::string_view s) { w.String(s.data(), json_size(s)); }
};

ControlReply::ControlReply(std::string_view type, std::string_view result, std::string_view message)
    : impl_(std::make_unique<Impl>()) {
  impl_->w.StartObject();
  add("type", type);
  add("result", result);
  add("message", message);
}

ControlReply::~ControlReply() = default;

ControlReply& ControlReply::add(std::string_view key, std::string_view value) {
  impl_->key(key);
  impl_->string(value);
  return *this;
}

ControlReply& ControlReply::add(std::string_view key, std::uint64_t value) {
  impl_->key(key);
  impl_->w.Uint64(value);
  return *this;
}

ControlReply& ControlReply::add(std::string_view key, std::int64_t value) {
  impl_->key(key);
  impl_->w.Int64(value);
  return *this;
}

ControlReply& ControlReply::add(std::string_view key, bool value) {
  impl_->key(key);
  impl_->w.Bool(value);
  return *this;
}

ControlReply& ControlReply::add_strings(std::string_view key,
                                        const std::vector<std::string>& values) {
  impl_->key(key);
  impl_->w.StartArray();
  for (const auto& v : values) {
    impl_->string(v);
  }
  impl_->w.EndArray();
  return *this;
}

ControlReply& ControlReply::begin_array(std::string_view key) {
  impl_->key(key);
  impl_->w.StartArray();
  return *this;
}

ControlReply& ControlReply::begin_object() {
  impl_->w.StartObject();
  return *this;
}

ControlReply& ControlReply::begin_object(std::string_view key) {
  impl_->key(key);
  impl_->w.StartObject();
  return *this;
}

ControlReply& ControlReply::end_object() {
  impl_->w.EndObject();
  return *this;
}

ControlReply& ControlReply::end_array() {
  impl_->w.EndArray();
  return *this;
}

std::size_t ControlReply::size() const {
  return impl_->buf.GetSize();
}

std::string ControlReply::finish() {
  impl_->w.EndObject();
  return std::string(impl_->buf.GetString(), impl_->buf.GetSize());
}

std::string control_reply(std::string_view type, std::string_view result,
                          std::string_view message) {
  return ControlReply(type, result, message).finish();
}

}  // namespace chat::proto
