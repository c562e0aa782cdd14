// chatctl's exit statuses (sysexits.h values), shared by the exchange and the output code.
#pragma once

namespace chat::ctl {

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;         // the daemon answered with an error result
inline constexpr int kExitUsage = 64;        // EX_USAGE
inline constexpr int kExitUnavailable = 69;  // EX_UNAVAILABLE: cannot connect
inline constexpr int kExitTimeout = 75;      // EX_TEMPFAIL: no answer within --timeout
inline constexpr int kExitProtocol = 76;     // EX_PROTOCOL: the answer is not a control reply
inline constexpr int kExitNoPerm = 77;       // EX_NOPERM

}  // namespace chat::ctl
