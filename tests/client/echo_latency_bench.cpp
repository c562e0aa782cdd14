// Echo latency of the real chat_client in a pty while a peer floods it: a benchmark
// program (prints figures, asserts nothing about time; not run by ctest).
//
//   client_echo_bench [LINES_PER_S=1000] [SAMPLES=300]
//
// The test plays the server and sends chat lines at the given rate; meanwhile it
// types one character at a time (every 20 ms) and measures, for each, the time from
// the write() on the pty master until the harness's screen model shows it on the
// input row. That includes the harness's own reading and VT parsing, so it is an
// upper bound of what a terminal would show.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "protocol/codec.hpp"

using chat::test::Clock;
using chat::test::FakeServer;
using chat::test::PtyClient;
using chat::test::VtScreen;

int main(int argc, char** argv) {
  const int rate = argc > 1 ? std::atoi(argv[1]) : 1000;
  const int samples = argc > 2 ? std::atoi(argv[2]) : 300;
  constexpr int kRows = 24;
  FakeServer server;
  PtyClient client({"--timestamps=HH:MM", "pat", "127.0.0.1", server.port()}, kRows, 80);
  if (!server.accept() || !server.read_frame() || !client.wait_row(kRows - 1, "pat>")) {
    std::fprintf(stderr, "setup failed\n");
    return 1;
  }
  server.send(chat::proto::encode(chat::proto::ServerPacket{
      chat::proto::Welcome{"pat", "bench", chat::proto::known_caps(), "lobby"}}));

  std::atomic<bool> stop{false};
  std::atomic<long> sent{0};
  const auto flood_start = Clock::now();
  std::thread peer([&] {
    // Evenly spaced on an absolute schedule, so the rate holds whatever a send costs.
    const auto start = Clock::now();
    const auto interval = std::chrono::nanoseconds(1'000'000'000 / std::max(rate, 1));
    for (long i = 0; !stop; ++i) {
      std::this_thread::sleep_until(start + i * interval);
      server.send(chat::proto::encode(chat::proto::ServerPacket{
          chat::proto::Chat{"chris", "line " + std::to_string(i) + " of a steady flood, pat"}}));
      sent = i + 1;
    }
  });

  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the flood is under way
  std::vector<double> ms;
  std::string typed;
  int missed = 0;
  for (int i = 0; i < samples; ++i) {
    const char c = static_cast<char>('a' + i % 26);
    if (typed.size() >= 60) {
      client.type("\x15");  // Ctrl-U: keep the line short
      client.wait_row(kRows - 1, "pat>");
      typed.clear();
    }
    typed += c;
    const std::string want = "pat> " + typed;
    const auto t0 = Clock::now();
    client.type(std::string(1, c));
    if (!client.wait_screen([&](const VtScreen& s) { return s.row(kRows - 1) == want; })) {
      ++missed;
      continue;
    }
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stop = true;
  peer.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - flood_start).count();
  std::sort(ms.begin(), ms.end());
  const auto pct = [&](double p) {
    return ms.empty() ? 0.0 : ms[std::min(ms.size() - 1, static_cast<std::size_t>(p * ms.size()))];
  };
  std::printf(
      "rate=%d lines_sent=%ld (~%.0f/s) samples=%zu missed=%d p50_ms=%.2f p90_ms=%.2f "
      "p99_ms=%.2f max_ms=%.2f\n",
      rate, sent.load(), static_cast<double>(sent.load()) / seconds, ms.size(), missed, pct(0.50),
      pct(0.90), pct(0.99), ms.empty() ? 0.0 : ms.back());
  return missed == 0 ? 0 : 2;
}
