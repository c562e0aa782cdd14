// The memory engine: a chat of one node. Nicks and rooms have no holders or
// members elsewhere, nothing is delivered beyond this process, and history is
// kept here, per room, as frames (the default engine; no Redis needed).
#pragma once

#include <deque>
#include <map>
#include <optional>
#include <string>

#include "daemon/engine.hpp"

namespace chat::daemon {

class MemoryEngine final : public Engine {
 public:
  std::string_view name() const override { return "memory"; }

  void claim_nick(const std::string& key, ClaimDone done) override;
  void release_nick(const std::string& key) override;
  void member_joined(const std::string& room, const std::string& nick,
                     const RoomEvent& announce) override;
  void member_left(const std::string& room, const std::string& nick,
                   const RoomEvent& announce) override;
  void remote_members(const std::string& room,
                      std::function<void(std::vector<std::string>)> done) override;
  void remote_rooms(
      std::function<void(std::vector<std::pair<std::string, std::size_t>>)> done) override;
  void publish(const std::string& room, const RoomEvent& event) override;
  void direct(const std::string& to_key, const RoomEvent& event,
              std::function<void(bool delivered)> done) override;

  void set_history_limits(HistoryLimits limits) override;
  void remember(const std::string& room, const proto::Frame& live, const proto::Frame* fallback,
                std::int64_t ts) override;
  void replay(const std::string& room, bool emote_cap, bool time_cap, std::size_t max_bytes,
              const std::function<void(const proto::Frame&)>& send) override;
  void room_emptied(const std::string& room) override;
  std::size_t local_history_bytes() const override { return history_bytes_; }
  bool shed_history() override;

 private:
  // One replayable line: the live frame as it was broadcast (shared, not copied:
  // keeping a line costs a reference), with when it was said. Its replayed forms
  // (`"history": true`, stamped for the time cap, the emote's fallback) are made
  // from those bytes on the first replay that needs them, then kept, so no line is
  // encoded again per newcomer and a room nobody joins pays nothing for history.
  struct Line {
    Line(proto::Frame frame, std::optional<proto::Frame> fallback, std::int64_t when)
        : live(std::move(frame)), live_fallback(std::move(fallback)), ts(when) {}
    proto::Frame live;
    std::optional<proto::Frame> live_fallback;  // an emote's form for readers without the cap
    std::int64_t ts = 0;
    // [fallback][timed]; nullopt: not made yet, or does not fit (then not sent).
    std::optional<proto::Frame> forms[2][2];
    bool made[2][2] = {};
    std::size_t bytes() const { return live.size() + (live_fallback ? live_fallback->size() : 0); }
    const std::optional<proto::Frame>& form(bool fallback, bool timed);
  };
  struct Room {
    std::deque<Line> lines;
    std::size_t bytes = 0;
  };
  void trim(Room& room, std::size_t lines, std::size_t bytes);

  HistoryLimits limits_;
  std::map<std::string, Room> rooms_;
  std::size_t history_bytes_ = 0;
};

}  // namespace chat::daemon
