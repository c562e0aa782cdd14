// Helpers for the extension tests: modern hellos, exact packet checks, JSON lists, sync markers.
#pragma once

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "tests/service/service_support.hpp"
#include "tests/support/test_client.hpp"

namespace chat::test::ext {

using svc::Members;

inline const std::vector<std::string> kAllCaps{"dm", "emote", "who", "rooms", "info", "history"};

// {"type":"hello","nick":NICK,"caps":[...]}
inline std::string hello_caps(const std::string& nick, const std::vector<std::string>& caps) {
  std::string out = R"({"type":"hello","nick":)" + json_string(nick) + R"(,"caps":[)";
  for (std::size_t i = 0; i < caps.size(); ++i) {
    out += (i > 0 ? "," : "") + json_string(caps[i]);
  }
  return out + "]}";
}

// The compact JSON text of a list of strings, as Packet keeps non-string members.
inline std::string json_list(const std::vector<std::string>& items) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) {
    out += (i > 0 ? "," : "") + json_string(items[i]);
  }
  return out + "]";
}

// `p` is `type` with exactly these members besides "type" (no more, no fewer).
inline ::testing::AssertionResult is_exactly(const Packet& p, const std::string& type,
                                             const Members& members) {
  if (!p.json || p.type != type) {
    return ::testing::AssertionFailure() << "expected a " << type << " packet, got " << p.raw;
  }
  std::map<std::string, std::string> want(members.begin(), members.end());
  want["type"] = type;
  if (p.members != want) {
    std::string expected;
    for (const auto& [k, v] : want) {
      expected += k + "=" + v + " ";
    }
    return ::testing::AssertionFailure() << "expected exactly {" << expected << "}, got " << p.raw;
  }
  return ::testing::AssertionSuccess();
}

inline ::testing::AssertionResult next_exactly(TestClient& c, const std::string& type,
                                               const Members& members,
                                               std::chrono::milliseconds timeout = kPatience) {
  Packet packet;
  if (auto got = receive_for(c, type, packet, timeout); !got) {
    return got;
  }
  return is_exactly(packet, type, members);
}

// The next packet is the welcome for `nick` with caps `caps_json` in lobby, and nothing more.
inline ::testing::AssertionResult next_welcome(TestClient& c, const std::string& nick,
                                               const std::string& caps_json) {
  auto p = c.recv_packet();
  if (!p) {
    return ::testing::AssertionFailure() << "expected welcome, got nothing";
  }
  const std::string server = p->get("server");
  if (server.rfind("chatd/", 0) != 0 || server.size() <= 6) {
    return ::testing::AssertionFailure() << "welcome without server chatd/VERSION: " << p->raw;
  }
  return is_exactly(*p, "welcome",
                    {{"nick", nick}, {"server", server}, {"caps", caps_json}, {"room", "lobby"}});
}

// Connects with caps (a modern connection) and checks the opening: welcome with
// `expect_caps` (default: `caps`) and room lobby, then the history (returned in
// `history`, each with "history": true), then its own join.
inline TestClient join_modern(std::uint16_t port, const std::string& nick,
                              const std::vector<std::string>& caps = kAllCaps,
                              std::vector<Packet>* history = nullptr,
                              const std::vector<std::string>* expect_caps = nullptr) {
  TestClient c = TestClient::connect(port);
  if (!c || !c.send_packet(hello_caps(nick, caps))) {
    ADD_FAILURE() << "cannot connect " << nick;
    return {};
  }
  auto welcome = c.recv_packet();
  if (!welcome || welcome->type != "welcome") {
    ADD_FAILURE() << nick << ": expected welcome first, got "
                  << (welcome ? welcome->raw : "nothing");
    return {};
  }
  const std::string server = welcome->get("server");
  const bool welcome_ok = welcome->get("nick") == nick && welcome->get("room") == "lobby" &&
                          welcome->get("caps") == json_list(expect_caps ? *expect_caps : caps) &&
                          server.rfind("chatd/", 0) == 0 && server.size() > 6 &&
                          welcome->members.size() == 5;
  EXPECT_TRUE(welcome_ok) << nick << ": welcome " << welcome->raw;
  const bool has_rooms = std::find(caps.begin(), caps.end(), "rooms") != caps.end();
  while (true) {
    auto p = c.recv_packet();
    if (!p) {
      ADD_FAILURE() << nick << ": no join after welcome";
      return {};
    }
    if (p->type == "join") {
      Members want{{"nick", nick}};
      if (has_rooms) {
        want.emplace_back("room", "lobby");
      }
      EXPECT_TRUE(is_exactly(*p, "join", want)) << nick << "'s own join";
      return c;
    }
    if ((p->type != "chat" && p->type != "emote") || p->get("history") != "true") {
      ADD_FAILURE() << nick << ": expected history or the join, got " << p->raw;
      return {};
    }
    if (history != nullptr) {
      history->push_back(*p);
    }
  }
}

// Proves nothing else was queued for `observers`: `sender` (in their room) says
// `marker`, and the next packet of each (sender included) is that chat.
inline void expect_nothing_pending(TestClient& sender, const std::string& sender_nick,
                                   const std::vector<TestClient*>& observers,
                                   const std::string& marker) {
  ASSERT_TRUE(sender.send_chat(marker));
  EXPECT_TRUE(next_exactly(sender, "chat", {{"nick", sender_nick}, {"message", marker}}))
      << "at the sender " << sender_nick;
  for (auto* o : observers) {
    EXPECT_TRUE(next_exactly(*o, "chat", {{"nick", sender_nick}, {"message", marker}}))
        << "at an observer";
  }
}

// The strings of a JSON list member ("nicks").
inline std::vector<std::string> string_list(const Packet& p, const std::string& member) {
  rapidjson::Document doc;
  const std::string text = p.get(member);
  doc.Parse(text.c_str(), text.size());
  std::vector<std::string> out;
  if (doc.IsArray()) {
    for (const auto& v : doc.GetArray()) {
      out.emplace_back(v.IsString() ? v.GetString() : "<not a string>");
    }
  }
  return out;
}

// The rooms list of a rooms reply, as (name, users).
inline std::vector<std::pair<std::string, int>> rooms_list(const Packet& p) {
  rapidjson::Document doc;
  const std::string text = p.get("rooms");
  doc.Parse(text.c_str(), text.size());
  std::vector<std::pair<std::string, int>> out;
  if (doc.IsArray()) {
    for (const auto& v : doc.GetArray()) {
      const bool ok = v.IsObject() && v.MemberCount() == 2 && v.HasMember("name") &&
                      v["name"].IsString() && v.HasMember("users") && v["users"].IsInt();
      out.emplace_back(ok ? v["name"].GetString() : "<malformed>", ok ? v["users"].GetInt() : -1);
    }
  }
  return out;
}

inline std::string enter_json(const std::string& room) {
  return R"({"type":"enter","room":)" + json_string(room) + "}";
}
inline std::string dm_json(const std::string& to, const std::string& message) {
  return R"({"type":"dm","to":)" + json_string(to) + R"(,"message":)" + json_string(message) + "}";
}
inline std::string emote_json(const std::string& message) {
  return R"({"type":"emote","message":)" + json_string(message) + "}";
}

}  // namespace chat::test::ext
