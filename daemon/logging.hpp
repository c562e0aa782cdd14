// Logging setup for chatd and helpers for key=value log fields.
#pragma once

#include <spdlog/spdlog.h>

#include <string>
#include <string_view>

#include "daemon/log_fields.hpp"

namespace chat::daemon {

enum class LogTarget { kAuto, kStderr, kJournal };

// Installs the default logger: journald when asked or when stderr is the journal
// (JOURNAL_STREAM), key=value lines on stderr otherwise. Returns the target used.
LogTarget setup_logging(LogTarget target, spdlog::level::level_enum level);

}  // namespace chat::daemon
