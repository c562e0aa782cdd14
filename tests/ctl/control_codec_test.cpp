// protocol/control: request parsing with result codes, request encoding, reply building.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "protocol/control.hpp"

namespace chat::proto {
namespace {

ControlRequest parsed_ok(std::string_view payload) {
  auto r = parse_control_request(payload);
  EXPECT_TRUE(std::holds_alternative<ControlRequest>(r)) << payload;
  return std::holds_alternative<ControlRequest>(r) ? std::get<ControlRequest>(r) : ControlRequest{};
}

ControlRequestError parsed_error(std::string_view payload) {
  auto r = parse_control_request(payload);
  EXPECT_TRUE(std::holds_alternative<ControlRequestError>(r)) << payload;
  return std::holds_alternative<ControlRequestError>(r) ? std::get<ControlRequestError>(r)
                                                        : ControlRequestError{};
}

TEST(ControlCodec, ParsesEveryKnownCommand) {
  EXPECT_EQ(parsed_ok(R"({"type":"status"})").name(), "status");
  EXPECT_EQ(parsed_ok(R"({"type":"who"})").name(), "who");
  EXPECT_EQ(parsed_ok(R"({"type":"version"})").name(), "version");
  EXPECT_EQ(parsed_ok(R"({"type":"list-commands","extra":1})").name(), "list-commands");
  std::vector<std::string> names;
  for (const auto& c : control_commands()) {
    names.emplace_back(c.name);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"status", "who", "kick", "say", "version",
                                             "list-commands", "account-add", "account-del",
                                             "account-passwd", "account-list"}));
}

// The envelope of account requests (the nick's validity and the hash's bounds are
// the handlers' to check, daemon/control_handlers.cpp: AccountsTest covers them).
TEST(ControlCodec, AccountRequestsCarryANickAndAHash) {
  const auto add = parsed_ok(R"({"type":"account-add","nick":"pat","hash":"$argon2id$x"})");
  EXPECT_EQ(add.name(), "account-add");
  ASSERT_NE(add.arg("nick"), nullptr);
  EXPECT_EQ(*add.arg("nick"), "pat");
  ASSERT_NE(add.arg("hash"), nullptr);
  EXPECT_EQ(*add.arg("hash"), "$argon2id$x");
  EXPECT_EQ(parsed_ok(R"({"type":"account-list"})").name(), "account-list");
  EXPECT_EQ(parsed_ok(R"({"type":"account-del","nick":"pat"})").name(), "account-del");
  for (const std::string& bad : {
           std::string(R"({"type":"account-add","nick":"pat"})"),
           std::string(R"({"type":"account-add","nick":"pat","hash":7})"),
           std::string(R"({"type":"account-del"})"),
       }) {
    const auto r = parse_control_request(bad);
    const auto* e = std::get_if<ControlRequestError>(&r);
    ASSERT_NE(e, nullptr) << bad;
    EXPECT_EQ(e->result, control_result::kBadRequest) << bad;
  }
  // The request chatctl sends parses back to itself.
  auto req = make_control_request("account-passwd");
  req.set("nick", "pat");
  req.set("hash", "$argon2id$v=19$h");
  const auto back = parsed_ok(encode_control_request(req));
  EXPECT_EQ(back.name(), "account-passwd");
  ASSERT_NE(back.arg("hash"), nullptr);
  EXPECT_EQ(*back.arg("hash"), "$argon2id$v=19$h");
}

TEST(ControlCodec, KickCarriesNickAndOptionalReason) {
  const auto plain = parsed_ok(R"({"type":"kick","nick":"pat"})");
  EXPECT_EQ(plain.name(), "kick");
  ASSERT_NE(plain.arg("nick"), nullptr);
  EXPECT_EQ(*plain.arg("nick"), "pat");
  EXPECT_EQ(plain.arg("reason"), nullptr);
  const auto with_reason = parsed_ok(R"({"type":"kick","nick":"pat","reason":"spam, twice"})");
  ASSERT_NE(with_reason.arg("reason"), nullptr);
  EXPECT_EQ(*with_reason.arg("reason"), "spam, twice");
}

TEST(ControlCodec, KickWithoutStringNickOrWithBadReasonIsRejected) {
  EXPECT_EQ(parsed_error(R"({"type":"kick"})").result, control_result::kBadRequest);
  EXPECT_EQ(parsed_error(R"({"type":"kick","nick":7})").result, control_result::kBadRequest);
  EXPECT_EQ(parsed_error(R"({"type":"kick","nick":"pat","reason":[]})").result,
            control_result::kBadRequest);
  EXPECT_EQ(parsed_error(R"({"type":"kick","nick":"pat","reason":"a\u001bb"})").result,
            control_result::kBadMessage);
  EXPECT_EQ(parsed_error(R"({"type":"kick"})").type, "kick");
}

TEST(ControlCodec, SayValidatesTheMessage) {
  const auto say = parsed_ok(R"({"type":"say","message":"maintenance at 10"})");
  ASSERT_NE(say.arg("message"), nullptr);
  EXPECT_EQ(*say.arg("message"), "maintenance at 10");
  EXPECT_EQ(parsed_error(R"({"type":"say"})").result, control_result::kBadRequest);
  EXPECT_EQ(parsed_error(R"({"type":"say","message":""})").result, control_result::kBadMessage);
  EXPECT_EQ(parsed_error(R"({"type":"say","message":"x\ny"})").result, control_result::kBadMessage);
  EXPECT_EQ(parsed_error(R"({"type":"say","message":"\u0085"})").result,
            control_result::kBadMessage);
}

TEST(ControlCodec, UnknownTypeIsUnknownCommandEchoingTheType) {
  const auto e = parsed_error(R"({"type":"shutdown"})");
  EXPECT_EQ(e.result, control_result::kUnknownCommand);
  EXPECT_EQ(e.type, "shutdown");
}

TEST(ControlCodec, BrokenEnvelopeIsBadRequestWithErrorType) {
  for (const std::string_view payload :
       {std::string_view("not json"), std::string_view("[1,2]"), std::string_view("{}"),
        std::string_view(R"({"type":5})"), std::string_view("{\"type\":\"\xff\"}"),
        std::string_view(R"({"type":"who")")}) {
    const auto e = parsed_error(payload);
    EXPECT_EQ(e.result, control_result::kBadRequest) << payload;
    EXPECT_EQ(e.type, kControlErrorType) << payload;
    EXPECT_FALSE(e.message.empty());
  }
}

TEST(ControlCodec, DeepNestingIsRejectedWithoutCrashing) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_EQ(parsed_error(deep).result, control_result::kBadRequest);
}

TEST(ControlCodec, EncodedRequestsParseBackUnchanged) {
  ControlRequest kick = make_control_request("kick");
  ASSERT_TRUE(kick.set("reason", "say \"please\""));
  ASSERT_TRUE(kick.set("nick", "Zoë"));
  EXPECT_FALSE(kick.set("message", "not a kick argument"));
  // Members in declared order, whatever order they were set in.
  EXPECT_EQ(encode_control_request(kick),
            R"({"type":"kick","nick":"Zoë","reason":"say \"please\""})");
  const auto k = parsed_ok(encode_control_request(kick));
  EXPECT_EQ(*k.arg("nick"), "Zoë");
  EXPECT_EQ(*k.arg("reason"), "say \"please\"");
  ControlRequest say = make_control_request("say");
  say.set("message", "hi 你好");
  EXPECT_EQ(encode_control_request(say), R"({"type":"say","message":"hi 你好"})");
  EXPECT_EQ(encode_control_request(make_control_request("who")), R"({"type":"who"})");
  EXPECT_EQ(make_control_request("shutdown").command, nullptr);
}

TEST(ControlCodec, ReplyHasTypeResultMessageThenData) {
  ControlReply reply("who", control_result::kOk, "");
  reply.begin_array("users").begin_object().add("nick", "pat").add("since", std::int64_t{-5});
  reply.end_object().end_array().add("total", std::uint64_t{1}).add("truncated", false);
  EXPECT_EQ(reply.finish(),
            R"({"type":"who","result":"ok","message":"","users":[{"nick":"pat","since":-5}],)"
            R"("total":1,"truncated":false})");
  EXPECT_EQ(control_reply("kick", control_result::kNoSuchNick, "no \"bob\""),
            R"({"type":"kick","result":"no-such-nick","message":"no \"bob\""})");
}

TEST(ControlCodec, ReplyIsValidJsonForHostileStrings) {
  const std::string hostile = std::string("a\"b\\c\n\x01", 7) + "\xe2\x80\xa8";
  ControlReply reply("say", control_result::kOk, hostile);
  reply.add_strings("list", {hostile, ""});
  const std::string json = reply.finish();
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  ASSERT_FALSE(doc.HasParseError()) << json;
  EXPECT_EQ(std::string(doc["message"].GetString(), doc["message"].GetStringLength()), hostile);
}

}  // namespace
}  // namespace chat::proto
