// Log-line fields: quoting, parsing back, journal field names and the journal entry.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "daemon/journal_sink.hpp"
#include "daemon/log_fields.hpp"

namespace chat::daemon {
namespace {

std::vector<std::pair<std::string, std::string>> pairs(std::string_view line) {
  std::vector<std::pair<std::string, std::string>> out;
  for (auto& f : parse_log_fields(line)) {
    out.emplace_back(f.key, f.value);
  }
  return out;
}

using Pairs = std::vector<std::pair<std::string, std::string>>;

TEST(LogFields, ParsesKeyValuePairsInOrder) {
  EXPECT_EQ(pairs("event=join nick=pat peer=1.2.3.4:5 session=7"),
            (Pairs{{"event", "join"}, {"nick", "pat"}, {"peer", "1.2.3.4:5"}, {"session", "7"}}));
  EXPECT_EQ(pairs("peer=[::1]:5000 empty="), (Pairs{{"peer", "[::1]:5000"}, {"empty", ""}}));
}

TEST(LogFields, QuotedValuesKeepSpacesAndEscapes) {
  EXPECT_EQ(pairs(R"(event=kick reason="too much spam" nick=pat)"),
            (Pairs{{"event", "kick"}, {"reason", "too much spam"}, {"nick", "pat"}}));
  EXPECT_EQ(pairs(R"(message="say \"hi\" \\ now\n\x01")"),
            (Pairs{{"message", std::string("say \"hi\" \\ now\n\x01", 16)}}));
  EXPECT_EQ(pairs(R"(reason="unterminated and more)"),
            (Pairs{{"reason", "unterminated and more"}}));
}

TEST(LogFields, SkipsTokensThatAreNotFields) {
  EXPECT_EQ(pairs("[S42] event=join some free text nick=pat"),
            (Pairs{{"event", "join"}, {"nick", "pat"}}));
  EXPECT_EQ(pairs(R"(note:"x y=z" event=leave)"), (Pairs{{"event", "leave"}}));
  EXPECT_EQ(pairs("=x a b= c"), (Pairs{{"b", ""}}));
  EXPECT_TRUE(pairs("").empty());
}

TEST(LogFields, LogValueRoundTripsHostileText) {
  const std::vector<std::string> values = {"pat",
                                           "",
                                           "two words",
                                           "fake=field",
                                           "quote\"and\\slash",
                                           std::string("nl\nline\r\ttab\x7f\x02", 14),
                                           "naïve 你好 🙂"};
  for (const auto& v : values) {
    const std::string line = "event=test value=" + log_value(v) + " next=1";
    EXPECT_EQ(pairs(line), (Pairs{{"event", "test"}, {"value", v}, {"next", "1"}})) << line;
    EXPECT_EQ(line.find('\n'), std::string::npos);
  }
  EXPECT_EQ(log_value("pat"), "pat");
  EXPECT_EQ(log_value("a b"), "\"a b\"");
}

TEST(LogFields, JournalFieldNamesAreUpperCaseAndValid) {
  EXPECT_EQ(journal_field_name("event"), "CHATD_EVENT");
  EXPECT_EQ(journal_field_name("sendq-bytes"), "CHATD_SENDQ_BYTES");
  EXPECT_EQ(journal_field_name("a.b_C9"), "CHATD_A_B_C9");
  EXPECT_EQ(journal_field_name(""), "");
  EXPECT_EQ(journal_field_name(std::string(59, 'k')), "");
  EXPECT_EQ(journal_field_name(std::string(58, 'k')).size(), 64u);
}

TEST(JournalSink, EntryHasMessagePriorityIdentifierAndFields) {
  const auto entry = journal_entry(
      spdlog::level::info, R"(event=join nick=pat peer=1.2.3.4:5 session=7 room="a b")", "chatd");
  EXPECT_EQ(entry,
            (std::vector<std::string>{
                R"(MESSAGE=event=join nick=pat peer=1.2.3.4:5 session=7 room="a b")", "PRIORITY=6",
                "SYSLOG_IDENTIFIER=chatd", "CHATD_EVENT=join", "CHATD_NICK=pat",
                "CHATD_PEER=1.2.3.4:5", "CHATD_SESSION=7", "CHATD_ROOM=a b"}));
}

TEST(JournalSink, EntryCarriesSourceLocationWhenKnown) {
  const auto entry = journal_entry(spdlog::level::err, "event=x", "chatd",
                                   spdlog::source_loc{"daemon/hub.cpp", 42, "broadcast"});
  EXPECT_NE(std::find(entry.begin(), entry.end(), "CODE_FILE=daemon/hub.cpp"), entry.end());
  EXPECT_NE(std::find(entry.begin(), entry.end(), "CODE_LINE=42"), entry.end());
  EXPECT_NE(std::find(entry.begin(), entry.end(), "CODE_FUNC=broadcast"), entry.end());
}

TEST(JournalSink, PriorityFollowsTheLevel) {
  EXPECT_EQ(journal_priority(spdlog::level::trace), 7);
  EXPECT_EQ(journal_priority(spdlog::level::debug), 7);
  EXPECT_EQ(journal_priority(spdlog::level::info), 6);
  EXPECT_EQ(journal_priority(spdlog::level::warn), 4);
  EXPECT_EQ(journal_priority(spdlog::level::err), 3);
  EXPECT_EQ(journal_priority(spdlog::level::critical), 2);
}

TEST(JournalSink, StderrIsJournalOnlyWhenJournalStreamMatches) {
  ::unsetenv("JOURNAL_STREAM");
  EXPECT_FALSE(stderr_is_journal());
  struct stat st {};
  ASSERT_EQ(::fstat(STDERR_FILENO, &st), 0);
  const std::string match = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
  ::setenv("JOURNAL_STREAM", match.c_str(), 1);
  EXPECT_TRUE(stderr_is_journal());
  ::setenv("JOURNAL_STREAM", "1:2", 1);
  EXPECT_FALSE(stderr_is_journal());
  ::unsetenv("JOURNAL_STREAM");
}

}  // namespace
}  // namespace chat::daemon
