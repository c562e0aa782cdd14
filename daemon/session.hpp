// One client connection: socket, input decoder, output queue of shared frames, counters.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>

#include "common/unique_fd.hpp"
#include "daemon/hub.hpp"
#include "daemon/tls.hpp"
#include "protocol/frame.hpp"

namespace chat::daemon {

class Session {
 public:
  enum class State {
    kOpen,      // reading and writing
    kClosing,   // flushing queued output, then shutdown(SHUT_WR)
    kDraining,  // output done; discarding input until EOF so the close is not a reset
    kDead,      // to be reaped at the end of the loop iteration
  };
  enum class IoResult { kOk, kWouldBlock, kEof, kError };

  Session(SessionId id, UniqueFd fd, std::string peer);

  SessionId id() const { return id_; }
  int fd() const { return fd_.get(); }
  const std::string& peer() const { return peer_; }

  // TLS: the session speaks TLS (server side) on its socket from now on; the
  // handshake is driven by the first reads. False if OpenSSL refused.
  bool start_tls(SSL_CTX* ctx);
  bool tls() const { return ssl_ != nullptr; }
  bool tls_handshaking() const;
  // The last flush or read stopped because OpenSSL must first move bytes the
  // other way (a TLS 1.3 key update, a handshake flight): the loop watches for
  // that direction too.
  bool tls_write_wants_read() const { return write_wants_read_; }
  bool tls_read_wants_write() const { return read_wants_write_; }
  // Decrypted bytes held inside OpenSSL: select/epoll cannot see them.
  bool tls_pending() const;
  // Why the last TLS read or write failed (OpenSSL's words), for the log.
  const std::string& tls_error() const { return tls_error_; }

  // Queues a frame; the caller enforces the send-queue limit with queued_bytes().
  // Refuses (false) a frame that is not a whole frame: the Frame type makes that
  // impossible, and this check keeps an empty write from ever reaching flush().
  bool enqueue(const Frame& frame, std::chrono::steady_clock::time_point now);
  // Gathers queued frames into one send() (TLS: one SSL_write of up to a record)
  // until the queue is empty or the socket is full.
  IoResult flush(std::chrono::steady_clock::time_point now);
  // When the output queue last moved: became non-empty, or the kernel took bytes.
  // Meaningless while the queue is empty.
  std::chrono::steady_clock::time_point output_progress() const { return progress_; }
  bool has_output() const { return !out_.empty(); }
  std::size_t queued_bytes() const { return queued_bytes_; }
  // The queue (front partly written: queued_bytes() excludes its first
  // written_of_front() bytes).
  const std::deque<Frame>& queued() const { return out_; }
  std::size_t written_of_front() const { return out_offset_; }
  void drop_output();

  // Reads what the kernel has (bounded) into the decoder.
  IoResult read_some(std::size_t max_bytes);
  proto::FrameDecoder& input() { return input_; }
  const proto::FrameDecoder& input() const { return input_; }
  // Reads and discards (kDraining).
  IoResult discard_input();

  // The life of a connection, one transition each; closing is one path:
  // kOpen -> kClosing (flush by the deadline) -> kDraining (half-closed, input
  // discarded until EOF) -> kDead (reaped at the end of the loop iteration);
  // any state may go straight to kDead.
  State state() const { return state_; }
  // kOpen -> kClosing; false (nothing changes) from any other state.
  bool start_closing(std::chrono::steady_clock::time_point deadline);
  // kClosing -> kDraining: shutdown(SHUT_WR), so the peer reads the end of what we
  // sent; TLS sends its close_notify first.
  void start_draining();
  // -> kDead; false if it already was.
  bool kill();
  std::chrono::steady_clock::time_point deadline() const { return deadline_; }

  bool dirty = false;          // on the server's flush list this iteration
  bool pending_input = false;  // complete frames left for the next iteration
  bool counted = true;         // false for a connection refused with server-full
  unsigned interest = 0;       // what the loop watches for now
  std::string address;         // peer address without the port, for the per-address limit
  double tokens = 0;           // flood control bucket
  double byte_tokens = 0;      // flood control bucket in bytes
  std::chrono::steady_clock::time_point refilled{};
  std::size_t accounted_input = 0;  // input().buffered() as the memory budget last saw it
  std::chrono::steady_clock::time_point accepted{};
  std::uint64_t hello_timer = 0;  // the loop's timers for this session (0: none)
  std::uint64_t close_timer = 0;

  std::uint64_t messages_in = 0;
  std::uint64_t messages_out = 0;
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;

 private:
  IoResult flush_tls(std::chrono::steady_clock::time_point now);
  IoResult read_tls(std::size_t max_bytes);
  IoResult tls_failure(int ret, bool reading);
  // The kernel (or OpenSSL) took `n` queued bytes.
  void consume(std::size_t n, std::chrono::steady_clock::time_point now);

  SessionId id_;
  State state_ = State::kOpen;
  std::chrono::steady_clock::time_point deadline_{};  // kClosing/kDraining ends by then
  UniqueFd fd_;
  std::string peer_;
  proto::FrameDecoder input_;
  std::deque<Frame> out_;
  std::size_t out_offset_ = 0;  // bytes of out_.front() already written
  std::size_t queued_bytes_ = 0;
  std::chrono::steady_clock::time_point progress_{};
  // Declared after fd_ so it is freed first (it does not own the socket).
  SslPtr ssl_;
  bool write_wants_read_ = false;
  bool read_wants_write_ = false;
  std::string tls_error_;
};

}  // namespace chat::daemon
