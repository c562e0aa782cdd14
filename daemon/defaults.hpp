// The built-in default of every chatd limit, defined once: the options (command
// line and config file), the server's Limits and the hub's HubConfig start here.
#pragma once

#include <chrono>
#include <cstddef>

namespace chat::daemon::defaults {

inline constexpr double kHelloTimeoutSeconds = 10.0;
inline constexpr std::size_t kSendqLimit = std::size_t{4} * 1024 * 1024;
inline constexpr std::size_t kHistoryLines = 20;
inline constexpr std::size_t kHistoryBytes = std::size_t{128} * 1024;
inline constexpr double kFloodRate = 50.0;
inline constexpr double kFloodBurst = 200.0;
inline constexpr double kFloodBytesRate = 65536.0;
inline constexpr double kFloodBytesBurst = 1048576.0;
inline constexpr std::size_t kMaxPerAddress = 16;
inline constexpr std::size_t kMemoryBudget = std::size_t{256} * 1024 * 1024;
inline constexpr double kStallTimeoutSeconds = 60.0;
// Failed logins per address (IPv4, or IPv6 /64): a burst, then one per this many
// seconds; past it auth-failed comes at once, without hashing.
inline constexpr double kAuthFailureBurst = 5.0;
inline constexpr double kAuthFailureEverySeconds = 12.0;
// Password checks outstanding at once (queued, running, or done and not yet taken).
inline constexpr std::size_t kMaxPendingVerifications = 128;

// The Redis engine (--engine redis): how long a node's heartbeat key, and so its
// nicks, outlive the node's last refresh (it refreshes every third of it).
inline constexpr double kPresenceTtlSeconds = 15.0;
// ...and how long a room's history list outlives its last line in Redis (a week).
inline constexpr double kHistoryTtlSeconds = 7 * 24 * 3600.0;

inline constexpr std::chrono::milliseconds to_ms(double seconds) {
  return std::chrono::milliseconds(static_cast<long long>(seconds * 1000.0));
}

}  // namespace chat::daemon::defaults
