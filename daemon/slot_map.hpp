// Session ids and the table both the server and the hub keep their per-session
// state in: an id names a slot, so finding a session is an index, not a hash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace chat::daemon {

// A session's id: its slot in the tables (low 32 bits) and a sequence number
// that is unique over the daemon's life (high 32 bits; the number logs show as
// `session=`). A reused slot gets a new sequence number, so a stale id (in a
// timer, or arriving after a close) never finds the slot's next session. 0 is
// never a session.
using SessionId = std::uint64_t;

constexpr std::uint32_t slot_of(SessionId id) {
  return static_cast<std::uint32_t>(id);
}
// What logs show: the sequence number (ids made by hand in tests have none: the slot).
constexpr std::uint64_t log_id(SessionId id) {
  return (id >> 32) != 0 ? id >> 32 : id;
}

// Per-session state indexed by slot. Iterates in slot order; `first` is the id
// and `second` the value, as in a map, so it reads like one at the call sites.
template <typename T>
class SlotMap {
 public:
  struct Entry {
    SessionId first = 0;  // 0: free
    T second{};
  };

  template <typename E>
  class Iter {
   public:
    Iter(E* at, E* end) : at_(at), end_(end) { skip(); }
    E& operator*() const { return *at_; }
    E* operator->() const { return at_; }
    Iter& operator++() {
      ++at_;
      skip();
      return *this;
    }
    bool operator==(const Iter& o) const { return at_ == o.at_; }
    bool operator!=(const Iter& o) const { return at_ != o.at_; }

   private:
    void skip() {
      while (at_ != end_ && at_->first == 0) {
        ++at_;
      }
    }
    E* at_;
    E* end_;
  };
  using iterator = Iter<Entry>;
  using const_iterator = Iter<const Entry>;

  // A new id for a free slot (the most recently freed first: its memory is
  // warm). The slot is the id's until emplace(), or release() if it is not used.
  SessionId allocate() {
    allocates_ = true;
    std::uint32_t slot = 0;
    if (!free_.empty()) {
      slot = free_.back();
      free_.pop_back();
    } else {
      slot = static_cast<std::uint32_t>(entries_.size());
      entries_.emplace_back();
    }
    ++sequence_;
    return (sequence_ << 32) | slot;
  }
  // Gives back an allocated id that was never emplaced.
  void release(SessionId id) { free_.push_back(slot_of(id)); }

  // Stores `value` under `id`: an id from allocate(), or (a table that mirrors
  // another one's ids) any id whose slot is free here.
  void emplace(SessionId id, T value) {
    const std::uint32_t slot = slot_of(id);
    if (slot >= entries_.size()) {
      entries_.resize(std::size_t{slot} + 1);
    }
    Entry& e = entries_[slot];
    e.first = id;
    e.second = std::move(value);
    ++size_;
  }

  iterator find(SessionId id) {
    const std::uint32_t slot = slot_of(id);
    if (id == 0 || slot >= entries_.size() || entries_[slot].first != id) {
      return end();
    }
    return iterator(&entries_[slot], data_end());
  }
  const_iterator find(SessionId id) const {
    const std::uint32_t slot = slot_of(id);
    if (id == 0 || slot >= entries_.size() || entries_[slot].first != id) {
      return end();
    }
    return const_iterator(&entries_[slot], data_end());
  }
  std::size_t count(SessionId id) const { return find(id) != end() ? 1 : 0; }
  T& at(SessionId id) { return find(id)->second; }

  void erase(iterator it) {
    Entry& e = *it;
    const std::uint32_t slot = slot_of(e.first);
    e.first = 0;
    e.second = T{};
    --size_;
    if (allocates_) {
      free_.push_back(slot);
    }
  }

  iterator begin() { return iterator(entries_.data(), data_end()); }
  iterator end() { return iterator(data_end(), data_end()); }
  const_iterator begin() const { return const_iterator(entries_.data(), data_end()); }
  const_iterator end() const { return const_iterator(data_end(), data_end()); }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

 private:
  Entry* data_end() { return entries_.data() + entries_.size(); }
  const Entry* data_end() const { return entries_.data() + entries_.size(); }

  std::vector<Entry> entries_;
  std::vector<std::uint32_t> free_;  // slots allocate() may hand out
  bool allocates_ = false;           // false: a table mirroring another's ids
  std::size_t size_ = 0;
  std::uint64_t sequence_ = 0;
};

}  // namespace chat::daemon
