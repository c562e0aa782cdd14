// Verifier: a job queue, one worker thread, results back through an eventfd.
#include "daemon/verifier.hpp"

#include <sodium.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <system_error>

namespace chat::daemon {
namespace {

bool sodium_check(const std::string& hash, const std::string& password) {
  return ::crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

}  // namespace

Verifier::Verifier(std::size_t capacity, Check check)
    : capacity_(capacity),
      check_(check ? std::move(check) : Check(sodium_check)),
      wake_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (!wake_) {
    throw std::system_error(errno, std::generic_category(), "eventfd for the password verifier");
  }
  if (::sodium_init() < 0) {
    throw std::runtime_error("libsodium cannot be initialised");
  }
  worker_ = std::thread([this] { run(); });
}

Verifier::~Verifier() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
    for (auto& job : jobs_) {
      ::sodium_memzero(job.password.data(), job.password.size());
    }
    jobs_.clear();
  }
  work_.notify_all();
  worker_.join();
}

bool Verifier::submit(std::uint64_t id, std::string hash, std::string password) {
  {
    const std::lock_guard lock(mutex_);
    if (outstanding_ >= capacity_ || stopping_) {
      ::sodium_memzero(password.data(), password.size());
      return false;
    }
    ++outstanding_;
    jobs_.push_back(Job{id, std::move(hash), std::move(password)});
  }
  work_.notify_one();
  return true;
}

std::vector<Verifier::Result> Verifier::take_results() {
  std::uint64_t count = 0;
  // Cleared before taking: a result pushed after the swap writes the eventfd again.
  while (::read(wake_.get(), &count, sizeof count) < 0 && errno == EINTR) {
  }
  std::vector<Result> out;
  const std::lock_guard lock(mutex_);
  out.swap(results_);
  outstanding_ -= out.size();
  return out;
}

std::size_t Verifier::outstanding() const {
  const std::lock_guard lock(mutex_);
  return outstanding_;
}

void Verifier::run() {
  std::unique_lock lock(mutex_);
  while (true) {
    work_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
    if (stopping_) {
      return;
    }
    Job job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    const bool ok = check_(job.hash, job.password);
    ::sodium_memzero(job.password.data(), job.password.size());
    lock.lock();
    results_.push_back(Result{job.id, ok});
    const std::uint64_t one = 1;
    // Cannot fail short of a counter overflow (2^64 - 2 unread wake-ups).
    (void)!::write(wake_.get(), &one, sizeof one);
  }
}

}  // namespace chat::daemon
