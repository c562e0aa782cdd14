// One strict way to parse JSON payloads, for the chat and the control protocol alike.
#include "protocol/json.hpp"

#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>

#include "protocol/rules.hpp"

namespace chat::proto::json {

std::optional<std::string> parse(rapidjson::Document& doc, std::string_view payload) {
  // RapidJSON stops at a NUL byte as if the input ended there, which would let
  // anything after it through unchecked. A raw NUL is never valid JSON text.
  if (payload.find('\0') != std::string_view::npos) {
    return "not JSON: raw NUL byte";
  }
  // A bare MemoryStream: Parse(str, len) wraps it in an EncodedInputStream that
  // silently eats a leading 0xEF (a partial BOM), which is not JSON.
  constexpr unsigned kFlags =
      rapidjson::kParseValidateEncodingFlag | rapidjson::kParseIterativeFlag;
  rapidjson::MemoryStream stream(payload.data(), payload.size());
  doc.ParseStream<kFlags, rapidjson::UTF8<>>(stream);
  if (!doc.HasParseError()) {
    return std::nullopt;
  }
  if (doc.GetParseError() == rapidjson::kParseErrorStringInvalidEncoding) {
    return "not valid UTF-8";
  }
  return std::string("not JSON: ") + rapidjson::GetParseError_En(doc.GetParseError());
}

const rapidjson::Value* find_member(const rapidjson::Value& obj, const char* name) {
  // `==`, not `!=`: RapidJSON's iterator `!=` is ambiguous to clang in C++20.
  const auto it = obj.FindMember(name);
  return it == obj.MemberEnd() ? nullptr : &it->value;
}

std::optional<std::string_view> checked_string(const rapidjson::Value& v) {
  if (!v.IsString()) {
    return std::nullopt;
  }
  const std::string_view s(v.GetString(), v.GetStringLength());
  if (!is_valid_utf8(s)) {
    return std::nullopt;
  }
  return s;
}

}  // namespace chat::proto::json
