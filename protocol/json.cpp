// One strict way to parse JSON payloads, for the chat and the control protocol alike.
#include "protocol/json.hpp"

#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>

#include "protocol/rules.hpp"

namespace chat::proto::json {
namespace {

bool is_ascii(std::string_view s) {
  unsigned char any = 0;
  for (const char c : s) {  // no early exit: the compiler vectorises this loop
    any |= static_cast<unsigned char>(c);
  }
  return any < 0x80;
}

}  // namespace

std::optional<std::string> parse(rapidjson::Document& doc, std::string_view payload) {
  // RapidJSON stops at a NUL byte as if the input ended there, which would let
  // anything after it through unchecked. A raw NUL is never valid JSON text.
  if (payload.find('\0') != std::string_view::npos) {
    return "not JSON: raw NUL byte";
  }
  // A bare MemoryStream: Parse(str, len) wraps it in an EncodedInputStream that
  // silently eats a leading 0xEF (a partial BOM), which is not JSON.
  rapidjson::MemoryStream stream(payload.data(), payload.size());
  // ASCII is UTF-8: most payloads skip RapidJSON's per-character validation
  // (a tenth of a chat's cost). A \u escape is not raw input and is checked
  // either way: by RapidJSON for surrogate pairs and by the field rules after.
  if (is_ascii(payload)) {
    doc.ParseStream<rapidjson::kParseIterativeFlag, rapidjson::UTF8<>>(stream);
  } else {
    constexpr unsigned kFlags =
        rapidjson::kParseValidateEncodingFlag | rapidjson::kParseIterativeFlag;
    doc.ParseStream<kFlags, rapidjson::UTF8<>>(stream);
  }
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
