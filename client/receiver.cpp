// Receiver loop: recv -> FrameDecoder -> decode_server -> render -> Display.
#include "client/receiver.hpp"

#include <pthread.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <exception>
#include <utility>

#include "client/highlight.hpp"
#include "protocol/codec.hpp"
#include "protocol/frame.hpp"
#include "protocol/rules.hpp"

namespace chat::client {
namespace {
constexpr std::size_t kReadChunk = std::size_t{64} * 1024;
}

Receiver::Receiver(Connection& conn, std::string nick, Display& display, NickBook& nicks,
                   SessionState& state, std::function<void()> on_close)
    : conn_(conn),
      nick_(std::move(nick)),
      display_(display),
      nicks_(nicks),
      state_(state),
      on_close_(std::move(on_close)) {}

Receiver::~Receiver() {
  stop();
}

void Receiver::start() {
  // Signals are the main thread's business (its signalfd); this thread blocks them.
  sigset_t all;
  sigset_t old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  thread_ = std::thread([this] {
    try {
      run();
    } catch (const std::exception& e) {
      // Out of memory and the like: end this session like a lost connection
      // rather than terminate() with the terminal still raw.
      reason_ = CloseReason::kClosed;
      if (!stopping_ && on_close_) {
        display_.add_line(Line{std::string("*** internal error: ") + e.what()});
        on_close_();
      }
    }
  });
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

void Receiver::stop() {
  stopping_ = true;
  if (thread_.joinable()) {
    conn_.interrupt();
    thread_.join();
  }
}

void Receiver::handle(std::string_view payload) {
  auto decoded = proto::decode_server(payload);
  const auto* packet = std::get_if<proto::ServerPacket>(&decoded);
  if (packet == nullptr) {
    return;  // malformed or unknown packets are ignored (forward compatibility)
  }
  last_was_error_ = std::holds_alternative<proto::Error>(*packet);
  if (const auto* error = std::get_if<proto::Error>(&*packet)) {
    last_error_code_ = error->code;
  }
  if (first_packet_ && !std::holds_alternative<proto::Welcome>(*packet) &&
      !std::holds_alternative<proto::Error>(*packet)) {
    state_.part1();  // a Part-2 server answers hello with welcome first (or refuses)
  }
  first_packet_ = false;
  track(*packet);
  if (is_answer(*packet)) {
    if (const auto lag = state_.answered(std::chrono::steady_clock::now())) {
      display_.add_line(Line{"*** the server answers again (" +
                             std::to_string((lag->count() + 500) / 1000) + " s late)"});
    }
  }
  if (auto line = render(*packet)) {
    annotate(*packet, *line);
    display_.add_line(*line);
  }
}

bool Receiver::is_answer(const proto::ServerPacket& packet) const {
  // Our own line coming back (every server echoes chat to its sender), or a refusal.
  if (const auto* chat = std::get_if<proto::Chat>(&packet)) {
    return chat->nick == nick_ || chat->nick.starts_with(nick_ + " -> ") ||
           (chat->nick == "*" && chat->message.starts_with(nick_ + " "));  // emote fallback
  }
  if (const auto* emote = std::get_if<proto::Emote>(&packet)) {
    return emote->nick == nick_;
  }
  if (const auto* dm = std::get_if<proto::Dm>(&packet)) {
    return dm->from == nick_;
  }
  return std::holds_alternative<proto::Error>(packet);
}

void Receiver::annotate(const proto::ServerPacket& packet, Line& line) const {
  std::visit(
      [&line](const auto& p) {
        if constexpr (requires { p.ts; }) {
          if (p.ts && *p.ts > 0) {
            line.ts_ms = *p.ts;
          }
        }
      },
      packet);
  if (const auto* chat = std::get_if<proto::Chat>(&packet)) {
    // A Part-1 server relays a DM as chat from "pat -> chris".
    const std::string dm_suffix = " -> " + nick_;
    if (chat->nick.size() > dm_suffix.size() && chat->nick.ends_with(dm_suffix) &&
        !chat->nick.starts_with(nick_ + " -> ")) {
      line.alert = Line::Alert::kDm;
    } else if (proto::nick_key(chat->nick) != proto::nick_key(nick_) &&
               mentions(chat->message, nick_)) {
      line.alert = Line::Alert::kMention;
    }
  } else if (const auto* emote = std::get_if<proto::Emote>(&packet)) {
    if (proto::nick_key(emote->nick) != proto::nick_key(nick_) && mentions(emote->message, nick_)) {
      line.alert = Line::Alert::kMention;
    }
  } else if (const auto* dm = std::get_if<proto::Dm>(&packet)) {
    if (proto::nick_key(dm->from) != proto::nick_key(nick_)) {
      line.alert = Line::Alert::kDm;
    }
  }
}

void Receiver::track(const proto::ServerPacket& packet) {
  // Fallback senders ("pat -> chris", "*", "***") are not nicks and are skipped.
  const auto seen = [this](const std::string& nick) {
    if (proto::is_valid_nick(nick) && nick != nick_) {
      nicks_.add(nick);
    }
  };
  if (const auto* welcome = std::get_if<proto::Welcome>(&packet)) {
    if (!welcome->nick.empty()) {
      nick_ = welcome->nick;
    }
    state_.welcome(welcome->caps, welcome->room);
    display_.set_room(welcome->room);
    if (!rejoin_.empty() && rejoin_ != welcome->room) {
      // The connection sends one frame at a time, so this cannot cut into a typed line.
      if (const auto frame = proto::Frame::make(
              proto::encode(proto::ClientPacket{proto::EnterRequest{rejoin_}}))) {
        (void)conn_.send(std::string_view(frame->data(), frame->size()));
      }
    }
    rejoin_.clear();
  } else if (const auto* join = std::get_if<proto::Join>(&packet)) {
    seen(join->nick);
    if (join->room && join->nick == nick_) {
      state_.set_room(*join->room);
      display_.set_room(*join->room);  // our own join: we are in that room now
    }
  } else if (const auto* leave = std::get_if<proto::Leave>(&packet)) {
    nicks_.remove(leave->nick);
  } else if (const auto* chat = std::get_if<proto::Chat>(&packet)) {
    seen(chat->nick);
  } else if (const auto* emote = std::get_if<proto::Emote>(&packet)) {
    seen(emote->nick);
  } else if (const auto* dm = std::get_if<proto::Dm>(&packet)) {
    seen(dm->from);
    seen(dm->to);
  } else if (const auto* who = std::get_if<proto::WhoReply>(&packet)) {
    for (const auto& nick : who->nicks) {
      seen(nick);
    }
  }
}

void Receiver::run() {
  proto::FrameDecoder decoder;
  std::string farewell;
  for (;;) {
    char* buf = decoder.prepare(kReadChunk);
    std::string error;
    const long n = conn_.receive(buf, kReadChunk, error);
    if (n <= 0) {
      decoder.commit(0);
      reason_ = last_was_error_ ? CloseReason::kRejected : CloseReason::kClosed;
      farewell = n == 0 ? "*** connection closed by the server" : "*** connection lost: " + error;
      break;
    }
    decoder.commit(static_cast<std::size_t>(n));
    std::string_view payload;
    proto::FrameDecoder::Status status;
    while ((status = decoder.next(payload)) != proto::FrameDecoder::Status::kNeedMore) {
      if (status == proto::FrameDecoder::Status::kEmptyFrame) {
        // Malformed like any other bad frame, and the framing is intact: skip it.
        decoder.skip_empty_frame();
        display_.add_line(Line{"*** the server sent an empty frame; skipped"});
        continue;
      }
      handle(payload);
    }
  }
  if (stopping_) {
    return;
  }
  if (!quiet_) {
    display_.add_line(Line{farewell});
  }
  if (on_close_) {
    on_close_();
  }
}

}  // namespace chat::client
