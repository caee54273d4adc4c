#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "net/api/api.hpp"
#include "net/api/codec.hpp"
#include "net/api/error.hpp"

namespace ab::testing {

using net::api_error;

namespace {

const std::vector<std::string> actions{"reimage", "power_on"};
const std::vector<std::string> classes{"maas", "user", "organic"};

}  // namespace

TEST(ParseSubmit, AcceptsOneHostOrMany) {
  auto one = net::parse_submit(R"({"action":"reimage","host":"h1"})", actions, classes);
  ASSERT_TRUE(std::holds_alternative<net::submit_command>(one));
  EXPECT_EQ(std::get<net::submit_command>(one).hosts, std::vector<std::string>{"h1"});
  EXPECT_EQ(std::get<net::submit_command>(one).priority_class, "user");
  auto many = net::parse_submit(
      R"({"action":"power_on","hosts":["a","b"],"priority":"maas","params":{"image":"x"}})",
      actions, classes);
  ASSERT_TRUE(std::holds_alternative<net::submit_command>(many));
  const auto& cmd = std::get<net::submit_command>(many);
  EXPECT_EQ(cmd.hosts.size(), 2u);
  EXPECT_EQ(cmd.priority_class, "maas");
  EXPECT_EQ(cmd.params, R"({"image":"x"})");
}

TEST(ParseSubmit, EveryBadInputGetsItsStatusAndCode) {
  struct bad_case {
    const char* body;
    int status;
    const char* code;
    const char* names;
  };
  const bad_case cases[] = {
      {"", 400, "malformed_json", "not valid JSON"},
      {"{", 400, "malformed_json", "not valid JSON"},
      {"[1]", 400, "wrong_type", "object"},
      {R"({"host":"h1"})", 400, "missing_field", "'action'"},
      {R"({"action":5,"host":"h1"})", 400, "wrong_type", "'action'"},
      {R"({"action":"fly","host":"h1"})", 422, "unknown_action", "'fly'"},
      {R"({"action":"reimage","host":"h1","colour":"red"})", 400, "unknown_field", "'colour'"},
      {R"({"action":"reimage"})", 400, "missing_field", "'host' or 'hosts'"},
      {R"({"action":"reimage","host":"a","hosts":["b"]})", 400, "missing_field", "exactly one"},
      {R"({"action":"reimage","hosts":[]})", 400, "wrong_type", "'hosts'"},
      {R"({"action":"reimage","hosts":"a"})", 400, "wrong_type", "'hosts'"},
      {R"({"action":"reimage","hosts":[1]})", 400, "wrong_type", "strings"},
      {R"({"action":"reimage","host":"bad host!"})", 400, "invalid_host", "bad host!"},
      {R"({"action":"reimage","host":"h","priority":"vip"})", 422, "unknown_priority", "'vip'"},
      {R"({"action":"reimage","host":"h","priority":1})", 400, "wrong_type", "'priority'"},
      {R"({"action":"reimage","host":"h","params":[1]})", 400, "wrong_type", "'params'"},
  };
  for (const auto& c : cases) {
    auto r = net::parse_submit(c.body, actions, classes);
    ASSERT_TRUE(std::holds_alternative<api_error>(r)) << c.body;
    const auto& e = std::get<api_error>(r);
    EXPECT_EQ(e.status, c.status) << c.body;
    EXPECT_EQ(e.code, c.code) << c.body;
    EXPECT_NE(e.message.find(c.names), std::string::npos) << c.body << " -> " << e.message;
  }
}

TEST(ParseHosts, AcceptsOneOrManyAndNamesWhatIsWrong) {
  auto many = net::parse_hosts(
      R"({"hosts":[{"name":"a","site":"dc1","bmc_endpoint":"https://x","credential_ref":"r"}]})");
  ASSERT_TRUE(std::holds_alternative<std::vector<storage::host_record>>(many));
  for (
      const char* bad :
      {R"({"name":"a"})", R"({"hosts":[]})",
       R"({"name":"a","site":"s","bmc_endpoint":"ftp://x","credential_ref":"r"})",
       R"({"name":"a","site":"s","bmc_endpoint":"https://x","credential_ref":"r","password":"p"})"}) {
    auto r = net::parse_hosts(bad);
    ASSERT_TRUE(std::holds_alternative<api_error>(r)) << bad;
    EXPECT_EQ(std::get<api_error>(r).status, 400);
  }
}

TEST(ParseRequestQuery, ReadsFiltersAndRefusesUnknownParameters) {
  auto f = net::parse_request_query("state=running&host=h%2D1&limit=5&cursor=40&since=1000");
  ASSERT_TRUE(std::holds_alternative<storage::request_filter>(f));
  const auto& filter = std::get<storage::request_filter>(f);
  EXPECT_EQ(filter.state, storage::request_state::running);
  EXPECT_EQ(filter.host, "h-1");
  EXPECT_EQ(filter.limit, 5u);
  EXPECT_EQ(filter.before, 40);
  EXPECT_EQ(filter.since, 1000);
  for (const char* bad :
       {"state=sleeping", "limit=0", "limit=x", "cursor=-1", "colour=red", "host=%zz"}) {
    auto r = net::parse_request_query(bad);
    ASSERT_TRUE(std::holds_alternative<api_error>(r)) << bad;
    EXPECT_EQ(std::get<api_error>(r).status, 400) << bad;
  }
}

// Found by fuzz/: messages quoted invalid UTF-8 from the input, and the JSON error body
// could not be encoded, so the node answered 500 instead of 400.
TEST(ParseErrors, QuoteInvalidUtf8AsValidUtf8) {
  std::vector<api_error> errors;
  for (const char* body :
       {"{\"action\":\"re\xffimage\"}", "{\"action\":\"x\xc3\"", "{\"bad\xff\":1}"}) {
    auto r = net::parse_submit(body, actions, classes);
    ASSERT_TRUE(std::holds_alternative<api_error>(r)) << body;
    errors.push_back(std::get<api_error>(r));
  }
  for (const char* query : {"%ff=1", "state=run%c3", "state=runni\xff"}) {
    auto r = net::parse_request_query(query);
    ASSERT_TRUE(std::holds_alternative<api_error>(r)) << query;
    errors.push_back(std::get<api_error>(r));
  }
  for (const auto& e : errors) {
    EXPECT_EQ(e.status, 400) << e.message;
    EXPECT_NO_THROW(nlohmann::json(e.message).dump()) << e.message;
    EXPECT_EQ(net::error_response(e).status, 400) << e.message;
  }
}

// A body nested a hundred thousand levels deep overflowed the stack when its params were
// encoded, killing the node; deep bodies are now refused as they are parsed.
TEST(ParseErrors, RefuseBodiesNestedTooDeep) {
  auto nested = [](int depth) { return std::string(depth, '[') + std::string(depth, ']'); };
  for (const auto& body :
       {R"({"action":"reimage","host":"h1","params":{"a":)" + nested(100000) + "}}",
        R"({"hosts":[{"name":)" + nested(100000) + "}]}"}) {
    auto submit = net::parse_submit(body, actions, classes);
    ASSERT_TRUE(std::holds_alternative<api_error>(submit));
    EXPECT_EQ(std::get<api_error>(submit).code, "too_deep");
    auto hosts = net::parse_hosts(body);
    ASSERT_TRUE(std::holds_alternative<api_error>(hosts));
    EXPECT_EQ(std::get<api_error>(hosts).code, "too_deep");
    auto patch = net::parse_host_patch(body, storage::host_record{});
    ASSERT_TRUE(std::holds_alternative<api_error>(patch));
    EXPECT_EQ(std::get<api_error>(patch).code, "too_deep");
  }
  auto fine = net::parse_submit(
      R"({"action":"reimage","host":"h1","params":{"a":)" + nested(50) + "}}", actions, classes);
  EXPECT_TRUE(std::holds_alternative<net::submit_command>(fine));
}

// Found by fuzz/: a number out of a double's range threw past the parser, which the node
// answered with 500.
TEST(ParseErrors, RefuseNumbersOutOfRange) {
  auto r = net::parse_submit(R"({"action":"reimage","host":"h1","params":{"n":1e999}})", actions,
                             classes);
  ASSERT_TRUE(std::holds_alternative<api_error>(r));
  EXPECT_EQ(std::get<api_error>(r).status, 400);
  EXPECT_EQ(std::get<api_error>(r).code, "malformed_json");
  auto hosts = net::parse_hosts(R"({"name":-2E2300})");
  ASSERT_TRUE(std::holds_alternative<api_error>(hosts));
  EXPECT_EQ(std::get<api_error>(hosts).code, "malformed_json");
}

TEST(ApiErrors, MapInternalErrorsToStatuses) {
  EXPECT_EQ(net::to_api_error(make_error(errc::not_found, "x")).status, 404);
  EXPECT_EQ(net::to_api_error(make_error(errc::conflict, "x")).status, 409);
  auto unavailable = net::to_api_error(make_error(errc::store_unavailable, "db down"));
  EXPECT_EQ(unavailable.status, 503);
  EXPECT_GT(unavailable.retry_after, 0);
  EXPECT_EQ(unavailable.message, "db down");
  auto r = net::error_response(unavailable);
  EXPECT_EQ(r.status, 503);
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].first, "Retry-After");
}

TEST(Fingerprint, IsStableAndTellsBodiesApart) {
  EXPECT_EQ(net::fingerprint("abc"), net::fingerprint("abc"));
  EXPECT_NE(net::fingerprint("abc"), net::fingerprint("abd"));
  EXPECT_EQ(net::fingerprint("").size(), 16u);
}

TEST(Names, HostNamesAreDnsLikeAsciiWithNoMarksOrSpaces) {
  for (const auto& good :
       std::vector<std::string>{"h1", "web-01.dc1.example", "A_b-9", std::string(253, 'a')})
    EXPECT_TRUE(net::valid_host_name(good)) << good;
  for (const auto& bad : std::vector<std::string>{
           "",           ".",          "..",        "-a",        "_a",
           ".hidden",    "a b",        "a\tb",      "a\nb",      std::string("a\0b", 3),
           "a/b",        "a\\b",       "a%2e",      "caf\u00e9", "web\u202e1",
           "web\u200b1", "web\u200e1", "\u2066web", "web\ufeff", std::string(254, 'a')})
    EXPECT_FALSE(net::valid_host_name(bad)) << net::printable(bad);
}

TEST(Names, SiteNamesAreLowercaseLabels) {
  for (const auto& good :
       std::vector<std::string>{"dc1", "default", "eu-west-2", std::string(63, 'a')})
    EXPECT_TRUE(net::valid_site_name(good)) << good;
  for (const auto& bad :
       std::vector<std::string>{"", ".", "..", "DC1", "dc_1", "dc.1", "-dc", "dc 1", "dc\t1",
                                "dc\u202e1", "dc\u200d1", std::string(64, 'a')})
    EXPECT_FALSE(net::valid_site_name(bad)) << net::printable(bad);
}

TEST(Names, AreCheckedWhereverTheyEnterAndNeverEchoedRaw) {
  auto hosts = net::parse_hosts(
      R"({"name":"h1","site":"dc\u202e1","bmc_endpoint":"https://x","credential_ref":"r"})");
  ASSERT_TRUE(std::holds_alternative<api_error>(hosts));
  const auto& e = std::get<api_error>(hosts);
  EXPECT_EQ(e.code, "invalid_site");
  EXPECT_NE(e.message.find("dc\\xe2\\x80\\xae1"), std::string::npos) << e.message;
  storage::host_record h;
  h.name = "h1";
  h.site = "dc1";
  EXPECT_TRUE(std::holds_alternative<api_error>(net::parse_host_patch(R"({"site":"Dc1"})", h)));
  EXPECT_TRUE(std::holds_alternative<api_error>(
      net::parse_submit(R"({"action":"reimage","hosts":["ok","a b"]})", actions, classes)));
  EXPECT_TRUE(std::holds_alternative<api_error>(net::parse_request_query("site=..")));
  EXPECT_TRUE(std::holds_alternative<api_error>(net::parse_request_query("host=%E2%80%8Bx")));
  EXPECT_TRUE(std::holds_alternative<api_error>(net::parse_host_query("after=a%00b")));
  EXPECT_TRUE(std::holds_alternative<api_error>(net::parse_host_query("site=DC1")));
  auto f = net::parse_host_query("site=dc1&after=web-1&limit=5");
  ASSERT_TRUE(std::holds_alternative<storage::host_filter>(f));
  EXPECT_EQ(std::get<storage::host_filter>(f).after, "web-1");
}

TEST(Fingerprint, CoversTheNormalisedCallNotTheBody) {
  auto parse = [](const std::string& body) {
    return std::get<net::submit_command>(net::parse_submit(body, actions, classes));
  };
  auto omitted = net::canonical_call(parse(R"({"action":"reimage","host":"h1"})"));
  EXPECT_EQ(net::canonical_call(
                parse(R"({"priority":"user","hosts":["h1"],"action":"reimage","params":{}})")),
            omitted);
  EXPECT_EQ(
      net::canonical_call(parse(R"({"action":"reimage","host":"h1","params":{"b":1,"a":2}})")),
      net::canonical_call(parse(R"({"params":{"a":2,"b":1},"action":"reimage","host":"h1"})")));
  EXPECT_NE(net::canonical_call(parse(R"({"action":"reimage","host":"h1","priority":"maas"})")),
            omitted);
  EXPECT_NE(net::canonical_call(parse(R"({"action":"reimage","hosts":["h1","h2"]})")), omitted);
}

}  // namespace ab::testing

namespace ab::net {
namespace {

TEST(ApiCodec, CallbackBodiesAreCheckedAndKeptAsCompactJson) {
  auto ok = parse_callback(R"({"status": "succeeded", "message": "done", "details": {"os": "x"}})");
  ASSERT_TRUE(std::holds_alternative<callback_report>(ok));
  EXPECT_TRUE(std::get<callback_report>(ok).succeeded);
  EXPECT_EQ(std::get<callback_report>(ok).payload,
            R"({"details":{"os":"x"},"message":"done","status":"succeeded"})");
  auto failed = parse_callback(R"({"status": "failed"})");
  ASSERT_TRUE(std::holds_alternative<callback_report>(failed));
  EXPECT_FALSE(std::get<callback_report>(failed).succeeded);
  const std::pair<std::string, const char*> bad[] = {
      {"", "malformed_json"},
      {"[]", "wrong_type"},
      {"{}", "missing_field"},
      {R"({"status": "maybe"})", "invalid_field"},
      {R"({"status": "failed", "colour": 1})", "unknown_field"},
      {R"({"status": "failed", "message": 1})", "wrong_type"},
      {R"({"status": "failed", "details": []})", "wrong_type"},
      {R"({"status": "failed", "details": )" + std::string(100, '[') + std::string(100, ']') + "}",
       "too_deep"},
  };
  for (const auto& [body, code] : bad) {
    auto r = parse_callback(body);
    ASSERT_TRUE(std::holds_alternative<api_error>(r)) << body;
    EXPECT_EQ(std::get<api_error>(r).code, code) << body;
    EXPECT_EQ(std::get<api_error>(r).status, 400);
  }
}

}  // namespace
}  // namespace ab::net
