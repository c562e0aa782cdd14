// A private temporary directory for a test's sockets and files.
#pragma once

#include <string>

namespace chat::test {

// A directory under /tmp (short: a Unix socket path holds at most 107 bytes),
// removed with its contents at destruction. Throws std::runtime_error if it
// cannot be created.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  // Writes `text` to file(name) (replacing it atomically, so a daemon never reads
  // half a file) and returns its path.
  std::string write(const std::string& name, const std::string& text) const;

 private:
  std::string path_;
};

// The whole content of a file; "" if it cannot be read.
std::string read_file(const std::string& path);

}  // namespace chat::test
