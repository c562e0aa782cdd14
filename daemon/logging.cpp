// spdlog setup: key=value lines on stderr, or journald entries with CHATD_* fields.
#include "daemon/logging.hpp"

#include <spdlog/sinks/stdout_sinks.h>

#include "daemon/journal_sink.hpp"

namespace chat::daemon {

LogTarget setup_logging(LogTarget target, spdlog::level::level_enum level) {
  if (target == LogTarget::kAuto) {
    target = stderr_is_journal() ? LogTarget::kJournal : LogTarget::kStderr;
  }
  std::shared_ptr<spdlog::logger> logger;
  if (target == LogTarget::kJournal) {
    // The journal keeps its own time and priority; the sink adds the CHATD_* fields.
    logger = std::make_shared<spdlog::logger>("chatd", std::make_shared<JournalSink>("chatd"));
  } else {
    logger = std::make_shared<spdlog::logger>("chatd",
                                              std::make_shared<spdlog::sinks::stderr_sink_mt>());
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e level=%l %v");
  }
  logger->set_level(level);
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
  return target;
}

}  // namespace chat::daemon
