// Logging setup for chatd and helpers for key=value log fields.
#pragma once

#include <spdlog/spdlog.h>

#include <string>
#include <string_view>

#include "daemon/log_fields.hpp"

namespace chat::daemon {

// A log field value, quoted when needed (see log_value in log_fields.hpp).
inline std::string field(std::string_view value) {
  return log_value(value);
}

enum class LogTarget { kAuto, kStderr, kJournal };

// Installs the default logger: journald when asked or when stderr is the journal
// (JOURNAL_STREAM), key=value lines on stderr otherwise. Returns the target used.
LogTarget setup_logging(LogTarget target, spdlog::level::level_enum level);

}  // namespace chat::daemon
