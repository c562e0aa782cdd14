// The course's display formats for every server packet, made inert by common/text_safety.
#include "client/render.hpp"

#include <utility>

#include "protocol/codec.hpp"

namespace chat::client {
namespace {

struct Renderer {
  std::optional<Line> operator()(const proto::Welcome&) const { return std::nullopt; }
  std::optional<Line> operator()(const proto::Chat& p) const {
    return Line{sanitize(p.nick) + ": " + sanitize(p.message), p.history};
  }
  std::optional<Line> operator()(const proto::Join& p) const {
    return Line{"*** " + sanitize(p.nick) + " has joined the chat"};
  }
  std::optional<Line> operator()(const proto::Leave& p) const {
    return Line{"*** " + sanitize(p.nick) + " has left the chat"};
  }
  std::optional<Line> operator()(const proto::Dm& p) const {
    return Line{sanitize(p.from) + " -> " + sanitize(p.to) + ": " + sanitize(p.message)};
  }
  std::optional<Line> operator()(const proto::Emote& p) const {
    return Line{"[" + sanitize(p.nick) + " " + sanitize(p.message) + "]", p.history};
  }
  std::optional<Line> operator()(const proto::WhoReply& p) const {
    std::string text = "*** in " + sanitize(p.room) + ": ";
    for (std::size_t i = 0; i < p.nicks.size(); ++i) {
      text += (i == 0 ? "" : ", ") + sanitize(p.nicks[i]);
    }
    if (p.nicks.empty()) {
      text += "nobody";
    }
    return Line{std::move(text)};
  }
  std::optional<Line> operator()(const proto::RoomsReply& p) const {
    std::string text = "*** rooms: ";
    for (std::size_t i = 0; i < p.rooms.size(); ++i) {
      text += (i == 0 ? "" : ", ") + sanitize(p.rooms[i].name) + " (" +
              std::to_string(p.rooms[i].users) + ")";
    }
    if (p.rooms.empty()) {
      text += "none";
    }
    return Line{std::move(text)};
  }
  std::optional<Line> operator()(const proto::Info& p) const {
    return Line{"*** " + sanitize(p.message)};
  }
  std::optional<Line> operator()(const proto::Error& p) const {
    return Line{"*** error: " + sanitize(p.message) + " (" + sanitize(p.code) + ")"};
  }
};

}  // namespace

std::optional<Line> render(const proto::ServerPacket& packet) {
  return std::visit(Renderer{}, packet);
}

std::optional<Line> render_payload(std::string_view payload) {
  auto decoded = proto::decode_server(payload);
  if (const auto* packet = std::get_if<proto::ServerPacket>(&decoded)) {
    return render(*packet);
  }
  return std::nullopt;
}

}  // namespace chat::client
