// Control envelope codec: RapidJSON parsing with result codes, streaming reply writer.
#include "protocol/control.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <utility>

#include "protocol/json.hpp"
#include "protocol/rules.hpp"

namespace chat::proto {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

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

// The registry: one entry per command. Adding a command is one entry here, its
// handler in daemon/control_handlers.cpp and its renderer in ctl/render.cpp
// (tests/ctl/registry_test.cpp fails until all three exist).
const std::vector<ControlCommandSpec>& control_commands() {
  // The account commands' arguments: the nick, and the hash chatctl makes.
  static const ControlArg account_nick{
      .name = "nick", .kind = ArgKind::kString, .help = "the nick", .type_name = "NICK"};
  static const ControlArg account_hash{.name = "hash",
                                       .kind = ArgKind::kString,
                                       .help = "the password's Argon2id string (chatctl makes it)",
                                       .type_name = "HASH",
                                       .cli = ArgCli::kNone};
  static const std::vector<ControlCommandSpec> commands = {
      {.name = "status",
       .help = "show the server's state and counters",
       .access = CommandAccess::kRead},
      {.name = "who",
       .help = "list the connected users",
       .access = CommandAccess::kRead,
       .cli_rank = -1},
      {.name = "kick",
       .help = "disconnect a user",
       .access = CommandAccess::kAdmin,
       .args = {{.name = "nick",
                 .kind = ArgKind::kString,
                 .help = "nick to disconnect",
                 .type_name = "NICK"},
                {.name = "reason",
                 .kind = ArgKind::kText,
                 .required = false,
                 .max_bytes = kMaxKickReason,
                 .help = "reason shown to the user",
                 .type_name = "REASON",
                 .cli = ArgCli::kWords}}},
      {.name = "say",
       .help = "send an operator message to every client",
       .access = CommandAccess::kAdmin,
       .args = {{.name = "message",
                 .kind = ArgKind::kText,
                 .max_bytes = kMaxSayMessage,
                 .help = "the message",
                 .type_name = "MESSAGE",
                 .cli = ArgCli::kWords}}},
      {.name = "version",
       .help = "show chatd's version and protocol",
       .access = CommandAccess::kRead},
      {.name = "list-commands",
       .help = "list the daemon's control commands",
       .access = CommandAccess::kRead},
      {.name = "account-add",
       .help = "register NICK; asks for its password",
       .access = CommandAccess::kAdmin,
       .args = {account_nick, account_hash},
       .cli = "account add"},
      {.name = "account-del",
       .help = "remove NICK's account",
       .access = CommandAccess::kAdmin,
       .args = {account_nick},
       .cli = "account del"},
      {.name = "account-passwd",
       .help = "change NICK's password",
       .access = CommandAccess::kAdmin,
       .args = {account_nick, account_hash},
       .cli = "account passwd"},
      {.name = "account-list",
       .help = "list the registered nicks",
       .access = CommandAccess::kAdmin,
       .cli = "account list"},
  };
  return commands;
}

const ControlCommandSpec* find_control_command(std::string_view name) {
  for (const auto& command : control_commands()) {
    if (command.name == name) {
      return &command;
    }
  }
  return nullptr;
}

const std::string* ControlRequest::arg(std::string_view arg_name) const {
  if (command == nullptr) {
    return nullptr;
  }
  for (std::size_t i = 0; i < command->args.size() && i < args.size(); ++i) {
    if (command->args[i].name == arg_name) {
      return args[i] ? &*args[i] : nullptr;
    }
  }
  return nullptr;
}

bool ControlRequest::set(std::string_view arg_name, std::string value) {
  if (command == nullptr) {
    return false;
  }
  args.resize(command->args.size());
  for (std::size_t i = 0; i < command->args.size(); ++i) {
    if (command->args[i].name == arg_name) {
      args[i] = std::move(value);
      return true;
    }
  }
  return false;
}

ControlRequest make_control_request(std::string_view name) {
  ControlRequest request;
  request.command = find_control_command(name);
  if (request.command != nullptr) {
    request.args.resize(request.command->args.size());
  }
  return request;
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
  ControlRequest request = make_control_request(*type);
  if (request.command == nullptr) {
    return request_error(*type, kUnknownCommand,
                         "unknown command; list-commands shows the known ones");
  }
  // Each argument in declared order: present and a string, then its kind's rule,
  // then its bound. The first failure answers.
  for (std::size_t i = 0; i < request.command->args.size(); ++i) {
    const ControlArg& spec = request.command->args[i];
    const std::string member(spec.name);
    auto value = string_member(doc, member.c_str(), wrong);
    if (!value && spec.required) {
      return request_error(*type, kBadRequest, *type + " needs a string \"" + member + "\"");
    }
    if (wrong) {
      return request_error(*type, kBadRequest, *type + " \"" + member + "\" must be a string");
    }
    if (value && spec.kind == ArgKind::kText) {
      if (!is_valid_message(*value)) {
        return request_error(*type, kBadMessage,
                             member + " must be non-empty text without control characters");
      }
      if (value->size() > spec.max_bytes) {
        return request_error(
            *type, kBadMessage,
            member + " is too long (at most " + std::to_string(spec.max_bytes) + " bytes)");
      }
    }
    request.args[i] = std::move(value);
  }
  return request;
}

std::string encode_control_request(const ControlRequest& request) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  const auto name = request.name();
  w.Key("type");
  w.String(name.data(), json_size(name));
  if (request.command != nullptr) {
    for (std::size_t i = 0; i < request.command->args.size() && i < request.args.size(); ++i) {
      if (request.args[i]) {
        const auto key = request.command->args[i].name;
        w.Key(key.data(), json_size(key));
        w.String(request.args[i]->data(), json_size(*request.args[i]));
      }
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
