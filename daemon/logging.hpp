// Logging setup for chatd and helpers for key=value log fields.
#pragma once

#include <spdlog/spdlog.h>

#include <string>
#include <string_view>

namespace chat::daemon {

// A log field value: bare if it is a plain token, otherwise double-quoted with
// quotes, backslashes and control characters escaped, so one event stays one line
// and a hostile nick or message cannot forge fields.
std::string field(std::string_view value);

enum class LogTarget { kAuto, kStderr, kJournal };

// Installs the default logger: journald when asked or when stderr is the journal
// (JOURNAL_STREAM), key=value lines on stderr otherwise. Returns the target used.
LogTarget setup_logging(LogTarget target, spdlog::level::level_enum level);

}  // namespace chat::daemon
