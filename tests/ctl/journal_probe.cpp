// Logs one line through JournalSink, for journal_readback.sh to find in a private journald.
#include <spdlog/spdlog.h>

#include <memory>

#include "daemon/journal_sink.hpp"

int main() {
  auto logger =
      std::make_shared<spdlog::logger>("chatd", std::make_shared<chat::daemon::JournalSink>());
  logger->warn(R"([S7] event=join nick=pat peer=127.0.0.1:5000 session=7 reason="two words")");
  // With a source location (spdlog's macros): the entry's CODE_* name this line.
  SPDLOG_LOGGER_WARN(logger, "event=probe-located");
  logger->error("event=probe-error detail=x");
  return 0;
}
