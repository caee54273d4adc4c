// What abctl prints: server strings made safe for a terminal, tables, the progress bar, and
// the strict reading of the API's answers.

#include <gtest/gtest.h>

#include "core/error.hpp"
#include "tools/abctl/answers.hpp"
#include "tools/abctl/render.hpp"

namespace ab::abctl {
namespace {

using json = nlohmann::json;

TEST(AbctlPrintable, EscapeSequencesAndControlCharactersAreShownNotObeyed) {
  EXPECT_EQ(printable("plain host-1.example"), "plain host-1.example");
  EXPECT_EQ(printable("\x1b[2J\x1b]0;pwned\x07"), "\\x1b[2J\\x1b]0;pwned\\x07");
  EXPECT_EQ(printable("a\rb\nc\td\x7f"), "a\\x0db\\x0ac\\x09d\\x7f");
  // C1 controls in UTF-8 (U+009B is a one-byte CSI on some terminals).
  EXPECT_EQ(printable("x\xc2\x9b"
                      "31m"),
            "x\\u{009B}31m");
}

TEST(AbctlPrintable, ReorderingAndInvisibleMarksAreShown) {
  // U+202E RIGHT-TO-LEFT OVERRIDE, U+200B ZERO WIDTH SPACE, U+2066 LEFT-TO-RIGHT ISOLATE.
  EXPECT_EQ(printable("ab\xe2\x80\xae"
                      "cd"),
            "ab\\u{202E}cd");
  EXPECT_EQ(printable("h\xe2\x80\x8b"
                      "1"),
            "h\\u{200B}1");
  EXPECT_EQ(printable("\xe2\x81\xa6x"), "\\u{2066}x");
  EXPECT_EQ(printable("\xef\xbb\xbfx"), "\\u{FEFF}x");
}

TEST(AbctlPrintable, WellFormedUtf8StaysAndMalformedBytesAreEscaped) {
  EXPECT_EQ(printable("Zürich ☃"), "Zürich ☃");
  EXPECT_EQ(printable("a\xff"
                      "b"),
            "a\\xffb");
  EXPECT_EQ(printable("\xc0\xaf"), "\\xc0\\xaf") << "an overlong '/'";
  EXPECT_EQ(printable("\xed\xa0\x80"), "\\xed\\xa0\\x80") << "a surrogate";
  EXPECT_EQ(printable("\xe2\x82"), "\\xe2\\x82") << "cut short";
}

TEST(AbctlTable, ColumnsArePaddedAndCellsSanitisedAndCut) {
  auto t = render_table({"ID", "HOST"}, {{"1", "h1"}, {"22", "\x1b[31mred"}});
  EXPECT_EQ(t, "ID  HOST\n1   h1\n22  \\x1b[31mred\n");
  auto cut = render_table({"X"}, {{std::string(100, 'a')}}, 10);
  EXPECT_EQ(cut, "X\naaaaaaaaa…\n");
  EXPECT_EQ(render_table({"A", "B"}, {{"ü", "x"}}), "A  B\nü  x\n");
}

TEST(AbctlProgress, TheBarFillsWithTheShareDone) {
  EXPECT_EQ(progress_bar(0, 4, 8), "[........]");
  EXPECT_EQ(progress_bar(1, 4, 8), "[##......]");
  EXPECT_EQ(progress_bar(4, 4, 8), "[########]");
  EXPECT_EQ(progress_bar(0, 0, 4), "[####]");
}

TEST(AbctlJson, TheJsonOutputEscapesEverythingATerminalWouldObey) {
  auto text = json_text(json{{"host", "\x1b[2J\xe2\x80\xae"}});
  EXPECT_EQ(text.find('\x1b'), std::string::npos);
  EXPECT_NE(text.find("\\u001b[2J\\u202e"), std::string::npos) << text;
  EXPECT_NO_THROW(json_text(json{{"bad", std::string("\xff")}}));
}

TEST(AbctlAnswers, ARequestIsReadWithItsJobs) {
  auto j = json::parse(R"({"id":7,"action":"build","host":"h1","site":"dc1","priority":"user",
    "submitter":"ops","state":"running","created_at":1,"params":{},"future_field":[1],
    "jobs":[{"position":0,"type":"power_off","state":"done","attempts":1,"max_attempts":5},
            {"position":1,"type":"install","state":"parked","attempts":1,"max_attempts":3}],
    "waiting_for":"job install is waiting"})");
  auto r = parse_request(j);
  ASSERT_TRUE(r) << message_of(r.error());
  EXPECT_EQ(r->id, 7);
  EXPECT_EQ(r->state, "running");
  ASSERT_EQ(r->jobs.size(), 2u);
  EXPECT_EQ(r->jobs[1].state, "parked");
  EXPECT_EQ(r->waiting_for, "job install is waiting");
  EXPECT_FALSE(terminal(r->state));
  EXPECT_TRUE(terminal("cancelled"));
}

TEST(AbctlAnswers, AWrongTypeOrAnUnknownStateIsRefused) {
  EXPECT_FALSE(
      parse_request(json::parse(R"({"id":"7","action":"a","host":"h","state":"queued"})")));
  EXPECT_FALSE(
      parse_request(json::parse(R"({"id":7,"action":"a","host":"h","state":"exploded"})")));
  EXPECT_FALSE(parse_request(json::parse(R"({"id":7,"action":"a","state":"queued"})")));
  EXPECT_FALSE(parse_request(json::parse(R"({"id":-1,"action":"a","host":"h","state":"queued"})")));
  EXPECT_FALSE(parse_request(json::parse(R"([1,2])")));
  EXPECT_FALSE(parse_request(json::parse(
      R"({"id":7,"action":"a","host":"h","state":"queued","jobs":[{"position":0,"type":"x","state":"odd"}]})")));
  EXPECT_FALSE(parse_request_page(json::parse(R"({"requests":{}})")));
  EXPECT_FALSE(parse_request_page(json::parse(R"({"requests":[],"next_cursor":"../x"})")));
  auto page = parse_request_page(json::parse(R"({"requests":[],"next_cursor":"12"})"));
  ASSERT_TRUE(page);
  EXPECT_EQ(page->next_cursor, "12");
}

TEST(AbctlAnswers, OutcomesOfASubmission) {
  auto o = parse_outcomes(json::parse(R"({"requests":[{"host":"h1","id":3,"status":"accepted"},
    {"host":"h2","id":2,"status":"refused","error":{"code":"host_busy","message":"busy"}}]})"));
  ASSERT_TRUE(o) << message_of(o.error());
  ASSERT_EQ(o->size(), 2u);
  EXPECT_EQ((*o)[1].error_code, "host_busy");
  EXPECT_FALSE(parse_outcomes(json::parse(R"({"requests":[{"host":"h1","status":"accepted"}]})")))
      << "accepted without an id";
  EXPECT_FALSE(
      parse_outcomes(json::parse(R"({"requests":[{"host":"h1","id":1,"status":"maybe"}]})")));
}

TEST(AbctlAnswers, TheClusterMapDocument) {
  auto m = parse_cluster_map(json::parse(R"({"version":3,"changed_at_ms":5,"changed_by":"ops",
    "map":{"clusters":{"build":{"actions":["reimage"]}},"nodes":{"n1":"build"}}})"));
  ASSERT_TRUE(m) << message_of(m.error());
  EXPECT_EQ(m->version, 3);
  EXPECT_FALSE(parse_cluster_map(json::parse(R"({"version":3})")));
  EXPECT_FALSE(parse_cluster_map(json::parse(R"({"version":3,"map":{"nodes":{"n1":1}}})")));
}

TEST(AbctlAnswers, TheRoutersNodesAreFoundWhereverTheyAreNested) {
  auto nodes = parse_cluster_nodes(json::parse(R"({"sites":[{"site":"dc1","clusters":[
      {"cluster":"build","nodes":[{"node_id":"n1","api_url":"http://a","load":0.5,
       "heartbeat_age_ms":1200,"health":"fresh"}]}]},
    {"site":"dc2","nodes":[{"node_id":"n2","cluster":"others","healthy":false}]}]})"));
  ASSERT_TRUE(nodes) << message_of(nodes.error());
  ASSERT_EQ(nodes->size(), 2u);
  EXPECT_EQ((*nodes)[0].site, "dc1");
  EXPECT_EQ((*nodes)[0].cluster, "build");
  EXPECT_EQ((*nodes)[0].load, 0.5);
  EXPECT_EQ((*nodes)[0].heartbeat_age_ms, 1200);
  EXPECT_EQ((*nodes)[1].site, "dc2");
  EXPECT_EQ((*nodes)[1].cluster, "others");
  EXPECT_EQ((*nodes)[1].health, "unhealthy");
  auto keyed = parse_cluster_nodes(
      json::parse(R"({"sites":{"dc3":{"clusters":{"discover":[{"node_id":"n3"}]}}}})"));
  ASSERT_TRUE(keyed);
  ASSERT_EQ(keyed->size(), 1u);
  EXPECT_EQ((*keyed)[0].site, "dc3");
  EXPECT_EQ((*keyed)[0].cluster, "discover");
  EXPECT_FALSE(parse_cluster_nodes(json::parse(R"({"nodes":[{"node_id":5}]})")));
  EXPECT_FALSE(parse_cluster_nodes(json::parse(R"({"nodes":[{"node_id":"n","load":"high"}]})")));
}

TEST(AbctlAnswers, AnErrorBody) {
  auto e = parse_error(R"({"error":{"code":"not_found","message":"no request '9'"}})");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, "not_found");
  EXPECT_FALSE(parse_error("<html>"));
  EXPECT_FALSE(parse_error(R"({"error":"x"})"));
}

}  // namespace
}  // namespace ab::abctl
