#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cluster/heartbeat.hpp"
#include "core/error.hpp"

namespace ab::testing {

namespace {

using json = nlohmann::json;

constexpr std::int64_t now = 1'700'000'000'000;
constexpr std::string_view secret = "correct horse battery staple";

cluster::heartbeat sample() {
  cluster::heartbeat hb;
  hb.node_id = "node-a1";
  hb.site = "dc-east";
  hb.site_id = 3;
  hb.cluster = "build";
  hb.api_url = "https://node-a1.example:8443";
  hb.load = 0.25;
  hb.api_in_flight = 7;
  hb.version = "0.1.0";
  hb.sent_at_ms = now;
  return hb;
}

/// `body` signed with its own `sent_at_ms`, then verified at `now`.
caf::expected<cluster::heartbeat> signed_and_verified(const std::string& body,
                                                      std::int64_t sent_at = now) {
  return cluster::verify(body, cluster::sign(body, sent_at, secret), secret, now);
}

/// The sample's JSON with `field` set to `value` (or removed when `value` is discarded).
std::string with(const std::string& field, const json& value) {
  auto doc = json::parse(cluster::encode(sample()));
  if (value.is_discarded())
    doc.erase(field);
  else
    doc[field] = value;
  return doc.dump();
}

bool refused_as(const caf::expected<cluster::heartbeat>& r, errc code) {
  return !r && is(r.error(), code);
}

}  // namespace

TEST(Heartbeat, RoundTripsThroughEncodeSignAndVerify) {
  auto body = cluster::encode(sample());
  auto hb = cluster::verify(body, cluster::sign(body, now, secret), secret, now + 1000);
  ASSERT_TRUE(hb) << message_of(hb.error());
  EXPECT_EQ(hb->node_id, "node-a1");
  EXPECT_EQ(hb->site, "dc-east");
  EXPECT_EQ(hb->site_id, 3);
  EXPECT_EQ(hb->cluster, "build");
  EXPECT_EQ(hb->api_url, "https://node-a1.example:8443");
  EXPECT_DOUBLE_EQ(hb->load, 0.25);
  EXPECT_EQ(hb->api_in_flight, 7);
  EXPECT_EQ(hb->version, "0.1.0");
  EXPECT_EQ(hb->sent_at_ms, now);
}

TEST(Heartbeat, SignsTheClockAndTheBodyWithHmacSha256InLowercaseHex) {
  // printf '%s' '1700000000000.{"a":1}' | openssl dgst -sha256 -hmac sesame
  EXPECT_EQ(cluster::sign(R"({"a":1})", now, "sesame"),
            "v1=b104d89ad6a63c172e8660074fad4d2e20a5f248bf1ec7d3127e9547dab8b08c");
}

TEST(Heartbeat, RefusesABodyChangedAfterSigning) {
  auto body = cluster::encode(sample());
  auto signature = cluster::sign(body, now, secret);
  auto forged = body;
  forged.replace(forged.find("node-a1"), 7, "node-a2");
  EXPECT_TRUE(refused_as(cluster::verify(forged, signature, secret, now), errc::unauthenticated));
}

TEST(Heartbeat, RefusesASignatureMadeWithAnotherSecret) {
  auto body = cluster::encode(sample());
  EXPECT_TRUE(refused_as(cluster::verify(body, cluster::sign(body, now, "guess"), secret, now),
                         errc::unauthenticated));
}

TEST(Heartbeat, RefusesASignatureOverAnotherClock) {
  // The clock is part of the signed message: a replay with a fresh sent_at_ms fails.
  auto body = cluster::encode(sample());
  EXPECT_TRUE(refused_as(cluster::verify(body, cluster::sign(body, now - 1, secret), secret, now),
                         errc::unauthenticated));
}

TEST(Heartbeat, RefusesAMalformedSignatureHeader) {
  auto body = cluster::encode(sample());
  auto good = cluster::sign(body, now, secret);
  std::string upper = good;
  for (auto& c : upper)
    if (c >= 'a' && c <= 'f') c = static_cast<char>(c - 'a' + 'A');
  upper.replace(0, 3, "v1=");
  for (const std::string& header :
       {std::string{}, good.substr(3), "v2=" + good.substr(3), good + "0", good.substr(0, 66),
        upper, "v1=" + std::string(64, 'g')})
    EXPECT_TRUE(refused_as(cluster::verify(body, header, secret, now), errc::unauthenticated))
        << header;
}

TEST(Heartbeat, RefusesEverythingWithoutASecret) {
  auto body = cluster::encode(sample());
  EXPECT_TRUE(refused_as(cluster::verify(body, cluster::sign(body, now, ""), "", now),
                         errc::unauthenticated));
}

TEST(Heartbeat, RefusesAClockOutsideTheWindow) {
  auto early = sample();
  early.sent_at_ms = now - 60'001;
  auto body = cluster::encode(early);
  EXPECT_TRUE(refused_as(signed_and_verified(body, early.sent_at_ms), errc::unauthenticated));
  auto late = sample();
  late.sent_at_ms = now + 60'001;
  body = cluster::encode(late);
  EXPECT_TRUE(refused_as(signed_and_verified(body, late.sent_at_ms), errc::unauthenticated));
  auto edge = sample();
  edge.sent_at_ms = now - 60'000;
  body = cluster::encode(edge);
  EXPECT_TRUE(signed_and_verified(body, edge.sent_at_ms));
}

TEST(Heartbeat, AClockNearTheInt64LimitsDoesNotWrapIntoTheWindow) {
  for (auto sent : {std::numeric_limits<std::int64_t>::max(), std::int64_t{0}}) {
    auto body = with("sent_at_ms", sent);
    auto r = cluster::verify(body, cluster::sign(body, sent, secret), secret,
                             std::numeric_limits<std::int64_t>::min());
    EXPECT_TRUE(refused_as(r, errc::unauthenticated)) << sent;
  }
}

TEST(Heartbeat, RefusesAnUnknownOrMissingField) {
  EXPECT_TRUE(refused_as(signed_and_verified(with("admin", true)), errc::invalid_argument));
  for (const char* field :
       {"node_id", "site", "site_id", "cluster", "api_url", "load", "api_in_flight", "version"})
    EXPECT_TRUE(refused_as(signed_and_verified(with(field, json(json::value_t::discarded))),
                           errc::invalid_argument))
        << field;
  // Without sent_at_ms there is no signed message to check.
  EXPECT_FALSE(signed_and_verified(with("sent_at_ms", json(json::value_t::discarded))));
}

TEST(Heartbeat, RefusesAFieldOfTheWrongType) {
  for (const auto& [field, value] : std::vector<std::pair<std::string, json>>{
           {"node_id", 5},
           {"site", json::array({"dc-east"})},
           {"site_id", "3"},
           {"site_id", 3.5},
           {"cluster", nullptr},
           {"api_url", json::object()},
           {"load", "0.5"},
           {"api_in_flight", 1.5},
           {"api_in_flight", true},
           {"version", 1},
           {"sent_at_ms", "1700000000000"},
       }) {
    auto body = with(field, value);
    auto r = cluster::verify(body, cluster::sign(body, now, secret), secret, now);
    EXPECT_TRUE(refused_as(r, errc::invalid_argument)) << field << "=" << value.dump();
  }
}

TEST(Heartbeat, RefusesValuesOutOfBounds) {
  for (const auto& [field, value] : std::vector<std::pair<std::string, json>>{
           {"node_id", std::string(254, 'n')},
           {"node_id", ""},
           {"node_id", "node a1"},
           {"node_id", "-node"},
           {"site", "DC-East"},
           {"site", std::string(64, 's')},
           {"site", "dc_east"},
           {"site_id", -1},
           {"site_id", 9001},
           {"site_id", std::numeric_limits<std::uint64_t>::max()},
           {"cluster", std::string(64, 'c')},
           {"cluster", "build\n"},
           {"api_url", "node-a1:8443"},
           {"api_url", "ftp://node-a1"},
           {"api_url", "https://"},
           {"api_url", "https://user:pw@node-a1"},
           {"api_url", "https://node a1"},
           {"api_url", "https://" + std::string(2048, 'h')},
           {"load", 1.5},
           {"load", -0.1},
           {"api_in_flight", -1},
           {"version", std::string(65, 'v')},
           {"version", ""},
           {"version", "0.1\x1b[31m"},
       })
    EXPECT_TRUE(refused_as(signed_and_verified(with(field, value)), errc::invalid_argument))
        << field << "=" << value.dump();
}

TEST(Heartbeat, AcceptsBothSchemesAndTheBoundaryValues) {
  for (const auto& [field, value] : std::vector<std::pair<std::string, json>>{
           {"api_url", "http://127.0.0.1:8080"},
           {"api_url", "https://[::1]:8443/"},
           {"site_id", 9000},
           {"site_id", 0},
           {"load", 1},
           {"load", 0},
           {"node_id", std::string(253, 'n')},
       }) {
    auto r = signed_and_verified(with(field, value));
    EXPECT_TRUE(r) << field << "=" << value.dump() << ": " << message_of(r.error());
  }
}

TEST(Heartbeat, RefusesABodyThatIsTooLargeOrNotAnObject) {
  for (const std::string& body : {std::string(cluster::max_body_size + 1, ' '), std::string{"[]"},
                                  std::string{"{"}, std::string{"\"x\""}, std::string{}})
    EXPECT_TRUE(refused_as(cluster::parse(body), errc::invalid_argument)) << body.substr(0, 8);
  auto big = sample();
  big.version = std::string(5000, 'v');
  auto body = cluster::encode(big);
  EXPECT_TRUE(refused_as(signed_and_verified(body), errc::invalid_argument));
}

TEST(Heartbeat, AProtocolOneHeartbeatIsEncodedAsTheReleasesBeforeVersioningSendIt) {
  // Exactly the nine members a router of protocol 1 accepts: nothing of protocols.
  auto doc = json::parse(cluster::encode(sample()));
  EXPECT_EQ(doc.size(), 9u) << doc;
  EXPECT_FALSE(doc.contains("protocol"));
  auto hb = signed_and_verified(doc.dump());
  ASSERT_TRUE(hb) << message_of(hb.error());
  EXPECT_EQ(hb->protocol_min, 1);
  EXPECT_EQ(hb->protocol_max, 1);
  EXPECT_FALSE(hb->draining);
}

TEST(Heartbeat, AProtocolTwoHeartbeatCarriesItsRangeAndWhetherItDrains) {
  auto hb = sample();
  hb.protocol_min = 1;
  hb.protocol_max = 2;
  hb.draining = true;
  auto back = signed_and_verified(cluster::encode(hb));
  ASSERT_TRUE(back) << message_of(back.error());
  EXPECT_EQ(back->protocol_min, 1);
  EXPECT_EQ(back->protocol_max, 2);
  EXPECT_TRUE(back->draining);
}

TEST(Heartbeat, RefusesAHalfOrOutOfOrderProtocolRange) {
  auto p2 = sample();
  p2.protocol_max = 2;
  auto doc = json::parse(cluster::encode(p2));
  for (const auto& [field, value] :
       std::vector<std::pair<std::string, json>>{{"protocol", json(json::value_t::discarded)},
                                                 {"protocol_min", json(json::value_t::discarded)},
                                                 {"protocol_min", 3},
                                                 {"protocol_min", 0},
                                                 {"protocol", 70000},
                                                 {"protocol", "2"},
                                                 {"draining", "yes"}}) {
    auto d = doc;
    if (value.is_discarded())
      d.erase(field);
    else
      d[field] = value;
    EXPECT_TRUE(refused_as(signed_and_verified(d.dump()), errc::invalid_argument))
        << field << "=" << value;
  }
  // Draining is a protocol 2 member.
  EXPECT_TRUE(refused_as(signed_and_verified(with("draining", true)), errc::invalid_argument));
}

TEST(Heartbeat, AMemberOfANewerProtocolIsIgnoredAndOfThisOneRefused) {
  auto hb = sample();
  hb.protocol_min = 2;
  hb.protocol_max = 2;
  auto doc = json::parse(cluster::encode(hb));
  doc["zone"] = "a";
  EXPECT_TRUE(refused_as(signed_and_verified(doc.dump()), errc::invalid_argument))
      << "protocol 2 knows no member 'zone'";
  doc["protocol"] = 3;
  auto newer = signed_and_verified(doc.dump());
  ASSERT_TRUE(newer) << message_of(newer.error());
  EXPECT_EQ(newer->protocol_max, 3);
  EXPECT_EQ(newer->node_id, "node-a1");
}

TEST(Heartbeat, CheckNamesTheBadField) {
  auto hb = sample();
  hb.api_url = "node-a1:8443";
  auto err = cluster::check(hb);
  ASSERT_TRUE(is(err, errc::invalid_argument));
  EXPECT_NE(message_of(err).find("api_url"), std::string::npos);
  EXPECT_FALSE(cluster::check(sample()));
}

class SecretFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("ab-secret-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& content, mode_t mode) {
    auto path = (dir_ / name).string();
    std::ofstream{path, std::ios::binary} << content;
    ::chmod(path.c_str(), mode);
    return path;
  }

  std::filesystem::path dir_;
};

TEST_F(SecretFile, ReadsAPrivateFileWithoutItsTrailingNewline) {
  auto s = cluster::read_secret_file(write("s", "sesame\n", 0600));
  ASSERT_TRUE(s) << message_of(s.error());
  EXPECT_EQ(*s, "sesame");
  s = cluster::read_secret_file(write("crlf", "sesame\r\n", 0400));
  ASSERT_TRUE(s) << message_of(s.error());
  EXPECT_EQ(*s, "sesame");
  s = cluster::read_secret_file(write("bare", "sesame", 0600));
  ASSERT_TRUE(s);
  EXPECT_EQ(*s, "sesame");
}

TEST_F(SecretFile, RefusesAFileOthersOrTheGroupMayRead) {
  for (mode_t mode : {0644, 0640, 0604, 0700, 0660}) {
    auto s = cluster::read_secret_file(write("s" + std::to_string(mode), "sesame", mode));
    ASSERT_FALSE(s) << std::oct << mode;
    EXPECT_TRUE(is(s.error(), errc::bad_config));
    EXPECT_EQ(message_of(s.error()).find("sesame"), std::string::npos);
  }
}

TEST_F(SecretFile, RefusesAnEmptyOrOversizeFile) {
  EXPECT_FALSE(cluster::read_secret_file(write("empty", "", 0600)));
  EXPECT_FALSE(cluster::read_secret_file(write("newline", "\n", 0600)));
  EXPECT_FALSE(cluster::read_secret_file(write("big", std::string(4097, 'x'), 0600)));
  EXPECT_TRUE(cluster::read_secret_file(write("max", std::string(4096, 'x'), 0600)));
}

TEST_F(SecretFile, RefusesWhatIsNotARegularFile) {
  EXPECT_FALSE(cluster::read_secret_file((dir_ / "missing").string()));
  auto sub = dir_ / "sub";
  std::filesystem::create_directory(sub);
  ::chmod(sub.c_str(), 0700);
  EXPECT_FALSE(cluster::read_secret_file(sub.string()));
  auto fifo = (dir_ / "fifo").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_FALSE(cluster::read_secret_file(fifo));
}

}  // namespace ab::testing
