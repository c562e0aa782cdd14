// An spdlog sink that writes to journald with chatd's key=value fields as CHATD_* fields.
#pragma once

#include <spdlog/details/log_msg.h>
#include <spdlog/sinks/base_sink.h>

#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace chat::daemon {

// syslog(3) priority for an spdlog level (trace/debug 7 ... critical 2).
int journal_priority(spdlog::level::level_enum level);

// The journal entry for one log line, as "FIELD=value" strings: MESSAGE,
// PRIORITY, SYSLOG_IDENTIFIER, one CHATD_<KEY> per key=value field of the text,
// and CODE_FILE/CODE_LINE/CODE_FUNC when the line carries its source location.
// Pure, so it is testable without journald.
std::vector<std::string> journal_entry(spdlog::level::level_enum level, std::string_view text,
                                       std::string_view identifier,
                                       const spdlog::source_loc& source = {});

// Debian's spdlog systemd_sink sends no custom fields, hence this one. It sends
// with sd_journal_sendv(), which needs no connection state and never blocks for
// long (a datagram to /run/systemd/journal/socket).
class JournalSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit JournalSink(std::string identifier = "chatd");

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override;
  void flush_() override {}

 private:
  std::string identifier_;
};

// True when stderr is connected to the journal (systemd sets JOURNAL_STREAM to
// the device:inode of that stream), so logging should go to journald directly.
bool stderr_is_journal();

}  // namespace chat::daemon
