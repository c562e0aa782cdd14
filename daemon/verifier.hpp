// The password verifier: one worker thread that checks Argon2id hashes off the event loop.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/unique_fd.hpp"

namespace chat::daemon {

// Hashing takes tens of milliseconds and tens of MiB by design, so it never runs on
// the loop's thread. The loop submits jobs; one worker verifies them in order and
// hands results back through an eventfd the loop watches (wake_fd()). Everything
// is bounded: at most `capacity` jobs are outstanding (queued, being verified, or
// verified and not yet taken), so a flood of logins costs a fixed amount of memory
// and is refused, not queued without end.
class Verifier {
 public:
  // True if `password` matches `hash` (crypto_pwhash_str_verify by default; tests
  // inject a slow or counting check).
  using Check = std::function<bool(const std::string& hash, const std::string& password)>;
  struct Result {
    std::uint64_t id;
    bool ok;
  };

  explicit Verifier(std::size_t capacity, Check check = {});
  ~Verifier();  // stops and joins the worker; jobs not started are dropped
  Verifier(const Verifier&) = delete;
  Verifier& operator=(const Verifier&) = delete;

  // Readable when results are waiting; register it with the event loop.
  int wake_fd() const { return wake_.get(); }
  // Queues a job; false (nothing queued) when `capacity` jobs are outstanding.
  // The password is wiped from memory once checked.
  bool submit(std::uint64_t id, std::string hash, std::string password);
  // The results finished so far, in completion order; clears the wake-up.
  std::vector<Result> take_results();
  // Jobs submitted and not yet taken as results.
  std::size_t outstanding() const;
  std::size_t capacity() const { return capacity_; }

 private:
  struct Job {
    std::uint64_t id;
    std::string hash;
    std::string password;
  };
  void run();

  const std::size_t capacity_;
  Check check_;
  UniqueFd wake_;
  mutable std::mutex mutex_;
  std::condition_variable work_;
  std::deque<Job> jobs_;
  std::vector<Result> results_;
  std::size_t outstanding_ = 0;
  bool stopping_ = false;
  std::thread worker_;  // last: started once everything above exists
};

}  // namespace chat::daemon
