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
// Longest `hash` an account request may carry (an Argon2id string is about 100).
inline constexpr std::size_t kMaxAccountHash = 127;

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

// The control command registry (docs/CONTROL.md "Adding a command"). Each command
// is declared once, in protocol/control.cpp's table: its name, arguments with their
// types and bounds, help text and access level. Everything else is derived from
// that entry: request parsing and encoding here, the access check and
// `list-commands` in chatd (whose handlers are keyed by the name, daemon/control_
// handlers.cpp), and chatctl's subcommands, help, renderers and bash completion
// (ctl/cli.cpp, ctl/render.cpp).

// Who may run a command (daemon/control.hpp ControlAccess decides who is who).
enum class CommandAccess {
  kRead,   // the read group too
  kAdmin,  // root, chatd's user and the admin group only
};

enum class ArgKind {
  kString,  // any string (UTF-8)
  kText,    // a message: non-empty, no control characters (PROTOCOL.md), at most max_bytes
};

// How chatctl takes an argument from its command line.
enum class ArgCli {
  kWord,   // one word
  kWords,  // every remaining word, joined with single spaces; an optional one left
           // empty is not sent
  kNone,   // not on the command line: chatctl's own code for the command fills it
};

struct ControlArg {
  std::string_view name{};  // the JSON member
  ArgKind kind = ArgKind::kString;
  bool required = true;          // an optional one may be absent, never mistyped
  std::size_t max_bytes = 0;     // kText: the longest accepted
  std::string_view help{};       // chatctl's help for it
  std::string_view type_name{};  // chatctl's placeholder, e.g. NICK
  ArgCli cli = ArgCli::kWord;
};

struct ControlCommandSpec {
  std::string_view name{};  // the request's "type", and chatctl's subcommand
  std::string_view help{};  // one line for chatctl --help
  CommandAccess access = CommandAccess::kAdmin;
  std::vector<ControlArg> args{};  // parsed, checked and encoded in this order
  // chatctl --help lists the commands by rank, then in table order; who, the most
  // used, ranks first. The wire order (list-commands) is the table's.
  int cli_rank = 0;
  // chatctl's words for it when they are not the name: two words make the second a
  // subcommand of the first (`.name = "account-add", .cli = "account add"`).
  std::string_view cli{};
};

// Every command, in the order `list-commands` reports them.
const std::vector<ControlCommandSpec>& control_commands();
// The command called `name`, or null.
const ControlCommandSpec* find_control_command(std::string_view name);

// One request: its command and the value of each declared argument (same index
// as command->args; nullopt: an optional argument left out).
struct ControlRequest {
  const ControlCommandSpec* command = nullptr;
  std::vector<std::optional<std::string>> args;

  std::string_view name() const { return command != nullptr ? command->name : ""; }
  // The argument's value, or null when it is absent or not declared.
  const std::string* arg(std::string_view arg_name) const;
  // Sets a declared argument (false if the command has no such argument).
  bool set(std::string_view arg_name, std::string value);
};

// A request for `name` without arguments yet; null command if unknown.
ControlRequest make_control_request(std::string_view name);

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
// The request payload chatctl sends (not framed): type, then the present
// arguments in declared order.
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
