// Fuzzes the control request parser: no crash, and every reply built from a request is valid JSON.
#include <rapidjson/document.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

#include "protocol/control.hpp"
#include "protocol/rules.hpp"

namespace {

using namespace chat::proto;

bool known_result(std::string_view r) {
  namespace cr = control_result;
  return r == cr::kOk || r == cr::kBadRequest || r == cr::kUnknownCommand || r == cr::kNoSuchNick ||
         r == cr::kBadMessage || r == cr::kPermissionDenied || r == cr::kInternalError;
}

// A reply must be a strict, valid-UTF-8 JSON object echoing `type` and `result`
// exactly (chatctl prints and exits by them), with a string `message`.
void check_reply(const std::string& reply, std::string_view type, std::string_view result) {
  if (!is_valid_utf8(reply)) {
    std::abort();
  }
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseValidateEncodingFlag | rapidjson::kParseIterativeFlag>(reply.data(),
                                                                                    reply.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    std::abort();
  }
  for (const char* name : {"type", "result", "message"}) {
    if (!doc.HasMember(name) || !doc[name].IsString()) {
      std::abort();
    }
  }
  const auto text = [&](const char* name) {
    return std::string_view(doc[name].GetString(), doc[name].GetStringLength());
  };
  if (text("type") != type || text("result") != result) {
    std::abort();
  }
}

bool same(const ControlRequest& a, const ControlRequest& b) {
  return a.command == b.command && a.args == b.args;
}

std::string arg_or(const ControlRequest& request, std::string_view name, std::string fallback) {
  const std::string* value = request.arg(name);
  return value != nullptr ? *value : fallback;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view payload(reinterpret_cast<const char*>(data), size);
  auto parsed = parse_control_request(payload);

  if (const auto* error = std::get_if<ControlRequestError>(&parsed)) {
    // (`type` may be empty: {"type":""} is an unknown command, echoed as it came.)
    if (!known_result(error->result) || error->result == control_result::kOk ||
        error->message.empty()) {
      std::abort();
    }
    // The two replies chatd can build from a refused request.
    check_reply(control_reply(error->type, error->result, error->message), error->type,
                error->result);
    check_reply(control_reply(error->type, control_result::kPermissionDenied, "permission denied"),
                error->type, control_result::kPermissionDenied);
    return 0;
  }

  const auto& request = std::get<ControlRequest>(parsed);
  const std::string_view name = request.name();
  if (request.command == nullptr || find_control_command(name) != request.command ||
      request.args.size() != request.command->args.size()) {
    std::abort();
  }
  // What the registry declares holds for every accepted request: required arguments
  // present, text arguments valid and within their bound.
  for (std::size_t i = 0; i < request.args.size(); ++i) {
    const ControlArg& spec = request.command->args[i];
    if (!request.args[i]) {
      if (spec.required) {
        std::abort();
      }
      continue;
    }
    if (spec.kind == ArgKind::kText &&
        (!is_valid_message(*request.args[i]) || request.args[i]->size() > spec.max_bytes)) {
      std::abort();
    }
  }
  // What chatctl would send for this request parses back to the same request.
  auto again = parse_control_request(encode_control_request(request));
  const auto* request2 = std::get_if<ControlRequest>(&again);
  if (request2 == nullptr || !same(request, *request2)) {
    std::abort();
  }

  // Replies carrying the request's own text, as chatd builds them (kick echoes the
  // nick; who lists nicks, peers and rooms that came from clients).
  const std::string nick = arg_or(request, "nick", "");
  if (name == "kick") {
    check_reply(control_reply(name, control_result::kNoSuchNick, "no user is called " + nick), name,
                control_result::kNoSuchNick);
  } else if (name == "say" || name == "who") {
    const std::string text = arg_or(request, "message", "x");
    ControlReply reply(name, control_result::kOk, text);
    reply.begin_array("users")
        .begin_object()
        .add("nick", text)
        .add("peer", arg_or(request, "reason", "127.0.0.1:1"))
        .add("messages_in", static_cast<std::uint64_t>(size))
        .add("since", static_cast<std::int64_t>(-1))
        .add("modern", true)
        .end_object()
        .end_array()
        .add_strings("rooms", {text, nick});
    check_reply(reply.finish(), name, control_result::kOk);
  } else {
    check_reply(control_reply(name, control_result::kOk, ""), name, control_result::kOk);
  }
  return 0;
}
