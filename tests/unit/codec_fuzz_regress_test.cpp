// Inputs the fuzzer found that the codec once accepted: each must be bad-packet now.
#include <gtest/gtest.h>

#include <string>
#include <variant>

#include "protocol/codec.hpp"
#include "protocol/control.hpp"
#include "protocol/rules.hpp"

namespace chat::proto {
namespace {

ErrorCode code_of(std::string_view payload) {
  auto decoded = decode_client(payload);
  EXPECT_TRUE(std::holds_alternative<DecodeError>(decoded)) << payload;
  return std::holds_alternative<DecodeError>(decoded) ? std::get<DecodeError>(decoded).code
                                                      : ErrorCode::kKicked;
}

TEST(CodecFuzzRegress, BytesAfterARawNulAreNotIgnored) {
  const std::string payload = std::string(R"({"type":"hello","nick":"pa"})") + '\0' + "garbage";
  EXPECT_EQ(code_of(payload), ErrorCode::kBadPacket);
  EXPECT_TRUE(std::get<DecodeError>(decode_client(payload)).fatal);
}

TEST(CodecFuzzRegress, LeadingPartialBomIsNotJson) {
  EXPECT_EQ(code_of("\xEF{\"type\":\"chat\",\"message\":\"x\"}"), ErrorCode::kBadPacket);
  EXPECT_EQ(code_of("\xEF\xBB\xBF{\"type\":\"chat\",\"message\":\"x\"}"), ErrorCode::kBadPacket);
}

TEST(CodecFuzzRegress, LoneSurrogateEscapesAreNotStrings) {
  // Kept strings would otherwise carry invalid UTF-8 into packets the server sends.
  EXPECT_EQ(code_of(R"({"type":"dm","to":"\udc00","message":"x"})"), ErrorCode::kBadPacket);
  EXPECT_EQ(code_of(R"({"type":"hello","nick":"pat","caps":["\udc00"]})"), ErrorCode::kBadPacket);
  EXPECT_EQ(code_of(R"({"type":"chat","message":"\udc00"})"), ErrorCode::kBadPacket);
}

}  // namespace
}  // namespace chat::proto

namespace chat::proto {
namespace {

TEST(ControlFuzzRegress, LoneSurrogateEscapesAreNotStrings) {
  // Replies echo the request's type (and kick's nick); they must stay valid UTF-8.
  for (const char* request : {R"({"type":"\udd10"})", R"({"type":"kick","nick":"\udc00"})"}) {
    auto parsed = parse_control_request(request);
    ASSERT_TRUE(std::holds_alternative<ControlRequestError>(parsed)) << request;
    const auto& err = std::get<ControlRequestError>(parsed);
    EXPECT_EQ(err.result, control_result::kBadRequest) << request;
    EXPECT_TRUE(is_valid_utf8(err.type)) << request;
  }
}

}  // namespace
}  // namespace chat::proto
