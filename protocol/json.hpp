// RapidJSON helpers shared by the chat codec and the control codec (internal to protocol/).
#pragma once

#include <rapidjson/document.h>

#include <optional>
#include <string>
#include <string_view>

namespace chat::proto::json {

// Parses `payload` as one JSON text into `doc`: strict UTF-8, iterative (no deep
// recursion), no raw NUL, no byte-order mark. Returns what is wrong, or nullopt.
std::optional<std::string> parse(rapidjson::Document& doc, std::string_view payload);

// The member's value, or null.
const rapidjson::Value* find_member(const rapidjson::Value& obj, const char* name);

// A JSON string as UTF-8, or nullopt if it is not a string or not UTF-8 (the parser
// checks the payload's bytes, but a \u escape can still produce a lone surrogate).
std::optional<std::string_view> checked_string(const rapidjson::Value& v);

}  // namespace chat::proto::json
