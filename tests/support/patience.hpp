// The one bound on every wait in the tests.
#pragma once

#include <chrono>

namespace chat::test {

using Clock = std::chrono::steady_clock;

// How long a test waits for anything that should happen promptly (a daemon's
// reply, a child's exit, a line on a screen). Generous: the machine is shared and
// the sanitizer builds are slow; every wait ends as soon as its condition holds.
inline constexpr std::chrono::milliseconds kPatience{10000};

// Milliseconds from now to `deadline` (0 once it has passed), for poll().
inline int ms_left(Clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(left);
}

}  // namespace chat::test
