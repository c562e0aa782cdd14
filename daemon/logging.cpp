// spdlog setup: stderr key=value lines, with a syslog-priority prefix under journald.
#include "daemon/logging.hpp"

#include <spdlog/sinks/stdout_sinks.h>

namespace chat::daemon {

std::string field(std::string_view value) {
  bool plain = !value.empty();
  for (const char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || c == '"' || c == '\\' || c == '=' || u == 0x7f) {
      plain = false;
      break;
    }
  }
  if (plain) {
    return std::string(value);
  }
  std::string out = "\"";
  for (const char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      out += fmt::format("\\x{:02x}", u);
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

LogTarget setup_logging(LogTarget target, spdlog::level::level_enum level) {
  auto logger =
      std::make_shared<spdlog::logger>("chatd", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e level=%l %v");
  logger->set_level(level);
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
  return target == LogTarget::kAuto ? LogTarget::kStderr : target;
}

}  // namespace chat::daemon
