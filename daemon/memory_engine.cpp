// The memory engine: one node's answers to the hub's questions about the rest of the chat.
#include "daemon/memory_engine.hpp"

#include "daemon/hub.hpp"

namespace chat::daemon {

// No other node: every nick this node does not hold is free, no room has
// members elsewhere, and nothing needs to travel.
void MemoryEngine::claim_nick(const std::string& /*key*/, ClaimDone done) {
  done(true);
}
void MemoryEngine::release_nick(const std::string& /*key*/) {}
void MemoryEngine::member_joined(const std::string& /*room*/, const std::string& /*nick*/,
                                 const RoomEvent& /*announce*/) {}
void MemoryEngine::member_left(const std::string& /*room*/, const std::string& /*nick*/,
                               const RoomEvent& /*announce*/) {}
void MemoryEngine::remote_members(const std::string& /*room*/,
                                  std::function<void(std::vector<std::string>)> done) {
  done({});
}
void MemoryEngine::remote_rooms(
    std::function<void(std::vector<std::pair<std::string, std::size_t>>)> done) {
  done({});
}
void MemoryEngine::publish(const std::string& /*room*/, const RoomEvent& /*event*/) {}
void MemoryEngine::direct(const std::string& /*to_key*/, const RoomEvent& /*event*/,
                          std::function<void(bool delivered)> done) {
  done(false);
}

void MemoryEngine::set_history_limits(HistoryLimits limits) {
  limits_ = limits;
  // Without this, a SIGHUP to a smaller history (or 0 = off) would keep replaying
  // the old lines until enough new ones pushed them out.
  for (auto& [name, room] : rooms_) {
    trim(room, limits_.lines, limits_.bytes);
  }
}

void MemoryEngine::remember(const std::string& room, const proto::Frame& live,
                            const proto::Frame* fallback, std::int64_t ts) {
  if (limits_.lines == 0) {
    return;
  }
  Room& r = rooms_[room];
  Line line(live, fallback != nullptr ? std::optional<proto::Frame>(*fallback) : std::nullopt, ts);
  r.bytes += line.bytes();
  history_bytes_ += line.bytes();
  r.lines.push_back(std::move(line));
  trim(r, limits_.lines, limits_.bytes);
}

void MemoryEngine::replay(const std::string& room, bool emote_cap, bool time_cap,
                          std::size_t max_bytes,
                          const std::function<void(const proto::Frame&)>& send) {
  const auto it = rooms_.find(room);
  if (it == rooms_.end()) {
    return;
  }
  // The newest lines that fit, oldest first: a newcomer's replay must never
  // overflow its own send queue.
  auto& lines = it->second.lines;
  std::size_t bytes = 0;
  auto first = lines.end();
  while (first != lines.begin()) {
    const auto prev = std::prev(first);
    const std::size_t n = prev->live.size();
    if (bytes + n > max_bytes) {
      break;
    }
    bytes += n;
    first = prev;
  }
  for (auto line = first; line != lines.end(); ++line) {
    const bool fallback = line->live_fallback.has_value() && !emote_cap;
    if (const auto& frame = line->form(fallback, time_cap)) {
      send(*frame);
    }
  }
}

const std::optional<proto::Frame>& MemoryEngine::Line::form(bool fallback, bool timed) {
  const int f = fallback ? 1 : 0;
  const int t = timed ? 1 : 0;
  if (!made[f][t]) {
    made[f][t] = true;
    if (timed) {
      if (const auto& plain = form(fallback, false)) {
        forms[f][t] = timed_frame(*plain, ts);
      }
    } else {
      forms[f][t] = history_frame(fallback ? *live_fallback : live);
    }
  }
  return forms[f][t];
}

void MemoryEngine::room_emptied(const std::string& room) {
  const auto it = rooms_.find(room);
  if (it != rooms_.end()) {
    history_bytes_ -= it->second.bytes;
    rooms_.erase(it);
  }
}

void MemoryEngine::trim(Room& room, std::size_t lines, std::size_t bytes) {
  while (!room.lines.empty() && (room.lines.size() > lines || room.bytes > bytes)) {
    const std::size_t n = room.lines.front().bytes();
    room.bytes -= n;
    history_bytes_ -= n;
    room.lines.pop_front();
  }
}

bool MemoryEngine::shed_history() {
  Room* largest = nullptr;
  for (auto& [name, room] : rooms_) {
    if (largest == nullptr || room.bytes > largest->bytes) {
      largest = &room;
    }
  }
  if (largest == nullptr || largest->lines.empty()) {
    return false;
  }
  trim(*largest, largest->lines.size() / 2, largest->bytes);
  return true;
}

}  // namespace chat::daemon
