// SlotMap: ids name slots, a stale id never finds the slot's next occupant, and
// a mirroring table (the hub's) takes the owner's ids as they are.
#include "daemon/slot_map.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace chat::daemon {
namespace {

TEST(SlotMap, StaleIdMissesTheReusedSlot) {
  SlotMap<std::string> table;
  const SessionId a = table.allocate();
  table.emplace(a, "a");
  table.erase(table.find(a));
  const SessionId b = table.allocate();
  table.emplace(b, "b");
  EXPECT_EQ(slot_of(a), slot_of(b));  // the freed slot is reused...
  EXPECT_NE(a, b);                    // ...under a new id
  EXPECT_EQ(table.find(a), table.end());
  ASSERT_NE(table.find(b), table.end());
  EXPECT_EQ(table.find(b)->second, "b");
  EXPECT_EQ(log_id(b), 2U);
  EXPECT_EQ(table.find(0), table.end());
}

TEST(SlotMap, IteratesLiveEntriesInSlotOrderAndReleasesUnusedIds) {
  SlotMap<int> table;
  std::vector<SessionId> ids;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(table.allocate());
    table.emplace(ids.back(), i);
  }
  table.erase(table.find(ids[1]));
  table.erase(table.find(ids[3]));
  const SessionId unused = table.allocate();
  table.release(unused);
  std::vector<int> seen;
  for (const auto& [id, v] : table) {
    EXPECT_EQ(table.find(id)->second, v);
    seen.push_back(v);
  }
  EXPECT_EQ(seen, (std::vector<int>{0, 2, 4}));
  EXPECT_EQ(table.size(), 3U);
  // Released and freed slots are handed out again: no slot is lost.
  table.emplace(table.allocate(), 7);
  table.emplace(table.allocate(), 8);
  EXPECT_EQ(table.size(), 5U);
  SlotMap<int> mirror;  // the hub's table, keyed by the server's ids
  mirror.emplace(ids[4], 40);
  EXPECT_EQ(mirror.find(ids[4])->second, 40);
  EXPECT_EQ(mirror.find(ids[2]), mirror.end());
  mirror.erase(mirror.find(ids[4]));
  EXPECT_TRUE(mirror.empty());
}

}  // namespace
}  // namespace chat::daemon
