// journald sink: sd_journal_sendv() with MESSAGE, PRIORITY, identifier and CHATD_* fields.
#include "daemon/journal_sink.hpp"

#include <sys/stat.h>
#include <sys/uio.h>
// Without this, sd_journal_sendv() is a macro that stamps every entry with
// CODE_FILE/CODE_LINE/CODE_FUNC of this file (the sink), not of the caller;
// journal_entry() adds the caller's location when the log line carries one.
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "daemon/log_fields.hpp"

namespace chat::daemon {

int journal_priority(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
    case spdlog::level::debug:
      return 7;  // LOG_DEBUG
    case spdlog::level::info:
      return 6;  // LOG_INFO
    case spdlog::level::warn:
      return 4;  // LOG_WARNING
    case spdlog::level::err:
      return 3;  // LOG_ERR
    case spdlog::level::critical:
      return 2;  // LOG_CRIT
    default:
      return 6;
  }
}

std::vector<std::string> journal_entry(spdlog::level::level_enum level, std::string_view text,
                                       std::string_view identifier,
                                       const spdlog::source_loc& source) {
  std::vector<std::string> entry;
  entry.push_back("MESSAGE=" + std::string(text));
  entry.push_back("PRIORITY=" + std::to_string(journal_priority(level)));
  entry.push_back("SYSLOG_IDENTIFIER=" + std::string(identifier));
  for (const auto& field : parse_log_fields(text)) {
    const std::string name = journal_field_name(field.key);
    if (!name.empty()) {
      entry.push_back(name + "=" + field.value);
    }
  }
  if (!source.empty()) {
    entry.push_back(std::string("CODE_FILE=") + source.filename);
    entry.push_back("CODE_LINE=" + std::to_string(source.line));
    if (source.funcname != nullptr) {
      entry.push_back(std::string("CODE_FUNC=") + source.funcname);
    }
  }
  return entry;
}

JournalSink::JournalSink(std::string identifier) : identifier_(std::move(identifier)) {}

void JournalSink::sink_it_(const spdlog::details::log_msg& msg) {
  const std::string_view text(msg.payload.data(), msg.payload.size());
  const auto entry = journal_entry(msg.level, text, identifier_, msg.source);
  std::vector<iovec> iov;
  iov.reserve(entry.size());
  for (const auto& field : entry) {
    // sd_journal_sendv() only reads the buffers; the cast is its C signature's.
    iov.push_back(iovec{const_cast<char*>(field.data()), field.size()});
  }
  const int rc = ::sd_journal_sendv(iov.data(), static_cast<int>(iov.size()));
  if (rc < 0) {
    // Logging must not fail the caller; keep the line on stderr instead.
    std::fprintf(stderr, "<%d>%.*s\n", journal_priority(msg.level), static_cast<int>(text.size()),
                 text.data());
  }
}

bool stderr_is_journal() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  if (stream == nullptr) {
    return false;
  }
  unsigned long long dev = 0;
  unsigned long long ino = 0;
  if (std::sscanf(stream, "%llu:%llu", &dev, &ino) != 2) {
    return false;
  }
  struct stat st {};
  if (::fstat(STDERR_FILENO, &st) != 0) {
    return false;
  }
  return static_cast<unsigned long long>(st.st_dev) == dev &&
         static_cast<unsigned long long>(st.st_ino) == ino;
}

}  // namespace chat::daemon
