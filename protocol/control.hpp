// The control-socket envelope (PROTOCOL.md "The control socket"): request parsing, reply building.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace chat::proto {

// Reported by the `version` command. Bump it when a packet's members change
// meaning; new packet types or commands do not need a bump.
inline constexpr int kProtocolVersion = 1;
// Longest `kick` reason and `say` message accepted (bytes): both must reach users
// in one frame (a reason inside an error message, a message as `info` or as the
// `***` chat fallback), whatever JSON escaping adds.
inline constexpr std::size_t kMaxKickReason = 400;
inline constexpr std::size_t kMaxSayMessage = 32000;

// The stable `result` codes of a control reply. chatctl's exit status is derived
// from them, so they never change spelling (docs/CONTROL.md).
namespace control_result {
inline constexpr std::string_view kOk = "ok";
inline constexpr std::string_view kBadRequest = "bad-request";
inline constexpr std::string_view kUnknownCommand = "unknown-command";
inline constexpr std::string_view kNoSuchNick = "no-such-nick";
inline constexpr std::string_view kBadMessage = "bad-message";
inline constexpr std::string_view kPermissionDenied = "permission-denied";
inline constexpr std::string_view kInternalError = "internal-error";
inline constexpr std::string_view kExists = "exists";                  // account add
inline constexpr std::string_view kNoSuchAccount = "no-such-account";  // account del/passwd
}  // namespace control_result

// The reply `type` used when a request's own type could not be read.
inline constexpr std::string_view kControlErrorType = "error";

enum class ControlCommand {
  kStatus,
  kWho,
  kKick,
  kSay,
  kVersion,
  kListCommands,
  kAccountAdd,
  kAccountDel,
  kAccountPasswd,
  kAccountList,
};
// Longest `hash` an account request may carry (an Argon2id string is about 100).
inline constexpr std::size_t kMaxAccountHash = 127;

std::string_view control_command_name(ControlCommand command);
std::optional<ControlCommand> control_command_from_name(std::string_view name);
// Every command, in the order `list-commands` reports them.
const std::vector<ControlCommand>& control_commands();

struct ControlRequest {
  ControlCommand command = ControlCommand::kStatus;
  std::string nick;                   // kick
  std::optional<std::string> reason;  // kick
  std::string message;                // say
  std::string hash;                   // account-add, account-passwd: an Argon2id string
};

// A request that cannot be carried out. `type` is the request's type when it
// was readable (so the reply can echo it), kControlErrorType otherwise.
struct ControlRequestError {
  std::string type;
  std::string_view result;
  std::string message;
};

// Parses one payload: a UTF-8 JSON object with a string "type" naming a known
// command and its arguments (members not listed for a command are ignored).
std::variant<ControlRequest, ControlRequestError> parse_control_request(std::string_view payload);
// The request payload chatctl sends (not framed).
std::string encode_control_request(const ControlRequest& request);

// Builds one reply object `{"type", "result", "message", ...data}` with a
// streaming RapidJSON writer; data members are added between construction and
// finish(). Nesting calls must balance.
class ControlReply {
 public:
  ControlReply(std::string_view type, std::string_view result, std::string_view message);
  ~ControlReply();
  ControlReply(const ControlReply&) = delete;
  ControlReply& operator=(const ControlReply&) = delete;

  ControlReply& add(std::string_view key, std::string_view value);
  ControlReply& add(std::string_view key, const char* value) {
    return add(key, std::string_view(value));
  }
  ControlReply& add(std::string_view key, std::uint64_t value);
  ControlReply& add(std::string_view key, std::int64_t value);
  ControlReply& add(std::string_view key, int value) {
    return add(key, static_cast<std::int64_t>(value));
  }
  ControlReply& add(std::string_view key, bool value);
  ControlReply& add_strings(std::string_view key, const std::vector<std::string>& values);
  // An array of objects: begin_array(key), then begin_object()/add.../end_object()
  // per element, then end_array().
  ControlReply& begin_array(std::string_view key);
  ControlReply& begin_object();
  // A member object: begin_object(key), add..., end_object().
  ControlReply& begin_object(std::string_view key);
  ControlReply& end_object();
  ControlReply& end_array();
  // Bytes written so far (to keep a reply inside one frame).
  std::size_t size() const;
  // Closes the object and returns the payload JSON.
  std::string finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A complete reply without data members.
std::string control_reply(std::string_view type, std::string_view result, std::string_view message);

}  // namespace chat::proto
