// known_servers parsing and --password-file reading, without a network.
#include "client/trust_files.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace chat::client {
namespace {

const std::string kFp =
    "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:"
    "89";

TEST(ClientKnownServers, ParsesEntriesCommentsAndBlankLines) {
  const auto k = parse_known_servers(
      "# comment\n\nchat.example.org:3490 " + kFp + "\r\n[::1]:7000\t" + kFp + "\n", "F");
  ASSERT_EQ(k.entries.size(), 2U);
  EXPECT_TRUE(k.warnings.empty());
  EXPECT_EQ(k.entries[0].server, "chat.example.org:3490");
  EXPECT_EQ(k.entries[0].line, 3);
  EXPECT_EQ(k.entries[1].server, "[::1]:7000");
  ASSERT_NE(k.find("[::1]:7000"), nullptr);
  EXPECT_EQ(k.find("[::1]:7000")->line, 4);
  EXPECT_EQ(k.find("chat.example.org:3491"), nullptr);
}

TEST(ClientKnownServers, MalformedLinesAreNamedByNumberAndSkipped) {
  std::string lower = kFp;
  for (auto& c : lower) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  const auto k = parse_known_servers(
      "onlyonefield\n"
      "host:0 " +
          kFp +
          "\n"
          "host:65536 " +
          kFp +
          "\n"
          "::1:80 " +
          kFp +
          "\n"
          "host:80 AB:CD\n"
          "host:80 " +
          kFp +
          " extra\n"
          "ho\x01st:80 " +
          kFp +
          "\n"
          "host:80 " +
          kFp.substr(0, 94) +
          "G\n"
          "good:1 " +
          lower + "\n",
      "F");
  ASSERT_EQ(k.warnings.size(), 8U);
  for (int i = 0; i < 8; ++i) {
    EXPECT_TRUE(
        k.warnings[static_cast<std::size_t>(i)].starts_with("F:" + std::to_string(i + 1) + ": "))
        << k.warnings[static_cast<std::size_t>(i)];
  }
  ASSERT_EQ(k.entries.size(), 1U);
  EXPECT_EQ(k.entries[0].fingerprint, kFp) << "stored upper case";
}

TEST(ClientKnownServers, ServerKeysBracketIpv6) {
  EXPECT_EQ(server_key("127.0.0.1", "3490"), "127.0.0.1:3490");
  EXPECT_EQ(server_key("::1", "3490"), "[::1]:3490");
  EXPECT_EQ(server_key("chat.example.org", "1"), "chat.example.org:1");
}

class ClientTrustFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "trust-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(ClientTrustFiles, RememberCreatesPrivateDirectoryAndFileAndAppends) {
  const std::string path = dir_ + "/a/b/known_servers";
  std::string error;
  ASSERT_TRUE(remember_server(path, "h:1", kFp, error)) << error;
  { std::ofstream(path, std::ios::app) << "# no newline at the end"; }
  ASSERT_TRUE(remember_server(path, "h:2", kFp, error)) << error;
  const auto k = load_known_servers(path);
  EXPECT_TRUE(k.warnings.empty());
  ASSERT_EQ(k.entries.size(), 2U);
  EXPECT_EQ(k.entries[1].server, "h:2");
  EXPECT_EQ(k.entries[1].line, 3);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600U);
  ASSERT_EQ(::stat((dir_ + "/a/b").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700U);
}

TEST_F(ClientTrustFiles, ADirectoryOrMissingFileIsNoCrash) {
  EXPECT_TRUE(load_known_servers(dir_ + "/missing").entries.empty());
  EXPECT_TRUE(load_known_servers(dir_ + "/missing").warnings.empty());
  const auto k = load_known_servers(dir_);
  EXPECT_TRUE(k.entries.empty());
  ASSERT_EQ(k.warnings.size(), 1U);
}

TEST_F(ClientTrustFiles, PasswordFileFirstLineOnlyAndPrivateOnly) {
  const std::string path = dir_ + "/pw";
  std::ofstream(path) << "s3cret pass\r\nnext\n";
  ::chmod(path.c_str(), 0600);
  std::string error;
  EXPECT_EQ(read_password_file(path, error), "s3cret pass") << error;
  ::chmod(path.c_str(), 0640);
  EXPECT_FALSE(read_password_file(path, error));
  EXPECT_NE(error.find("mode 0640"), std::string::npos) << error;
  EXPECT_EQ(error.find("s3cret"), std::string::npos);
  ::chmod(path.c_str(), 0600);
  std::ofstream(path) << std::string(5000, 'x');
  EXPECT_FALSE(read_password_file(path, error));
  std::ofstream(path) << "\xff\xfe\n";
  EXPECT_FALSE(read_password_file(path, error));
  EXPECT_FALSE(read_password_file(dir_, error)) << "a directory";
}

}  // namespace
}  // namespace chat::client
