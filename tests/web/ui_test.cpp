// The operator's view as the binaries serve it: the files of web/ui compiled in byte for byte,
// and the headers that keep a hostile text from running in the page.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <string>

#include "web/assets.hpp"
#include "web/ui.hpp"

namespace ab::web {
namespace {

net::http_request get(const std::string& target) {
  net::http_request r;
  r.method = "GET";
  r.target = target;
  return r;
}

std::string header(const net::http_response& r, const std::string& name) {
  for (const auto& [n, v] : r.headers)
    if (n == name) return v;
  return {};
}

std::string source_file(const std::string& name) {
  std::ifstream in(std::string{AB_SOURCE_DIR} + "/web/ui/" + name, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(WebUi, EveryFileOfWebUiIsCompiledInByteForByte) {
  std::size_t files = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string{AB_SOURCE_DIR} + "/web/ui")) {
    ++files;
    auto name = entry.path().filename().string();
    const auto* a = find_asset(name);
    ASSERT_NE(a, nullptr) << name;
    EXPECT_EQ(a->body, source_file(name)) << name;
  }
  EXPECT_EQ(assets().size(), files);
  EXPECT_GE(files, 3u);
}

TEST(WebUi, TheIndexIsServedWithAStrictPolicyAndNoSniffing) {
  for (const auto* target : {"/ui/", "/ui/index.html", "/ui/?x=1"}) {
    auto r = serve_ui(get(target));
    ASSERT_TRUE(r) << target;
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->content_type, "text/html; charset=utf-8");
    EXPECT_EQ(r->body, source_file("index.html"));
    auto csp = header(*r, "Content-Security-Policy");
    EXPECT_NE(csp.find("default-src 'self'"), std::string::npos);
    EXPECT_NE(csp.find("script-src 'self'"), std::string::npos);
    EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos);
    EXPECT_EQ(csp.find("unsafe-eval"), std::string::npos);
    EXPECT_EQ(header(*r, "X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(header(*r, "Cache-Control"), "no-cache");
    EXPECT_FALSE(header(*r, "ETag").empty());
  }
}

TEST(WebUi, EachFileHasTheContentTypeOfItsKind) {
  auto js = serve_ui(get("/ui/app.js"));
  ASSERT_TRUE(js);
  EXPECT_EQ(js->content_type, "text/javascript; charset=utf-8");
  auto css = serve_ui(get("/ui/style.css"));
  ASSERT_TRUE(css);
  EXPECT_EQ(css->content_type, "text/css; charset=utf-8");
  auto icon = serve_ui(get("/ui/favicon.svg"));
  ASSERT_TRUE(icon);
  EXPECT_EQ(icon->content_type, "image/svg+xml");
}

TEST(WebUi, AKnownETagIsAnswered304WithoutABody) {
  auto first = serve_ui(get("/ui/app.js"));
  ASSERT_TRUE(first);
  auto again = get("/ui/app.js");
  again.headers["if-none-match"] = "\"other\", " + header(*first, "ETag");
  auto r = serve_ui(again);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 304);
  EXPECT_TRUE(r->body.empty());
  again.headers["if-none-match"] = "\"other\"";
  EXPECT_EQ(serve_ui(again)->status, 200);
}

TEST(WebUi, OtherPathsAreLeftToTheApiAndUnknownFilesAre404) {
  EXPECT_FALSE(serve_ui(get("/v1/cluster")));
  EXPECT_FALSE(serve_ui(get("/uix")));
  EXPECT_FALSE(serve_ui(get("/")));
  auto missing = serve_ui(get("/ui/<script>alert(1)</script>"));
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  // Nothing of the caller's path comes back.
  EXPECT_EQ(missing->body.find("script"), std::string::npos);
  EXPECT_EQ(header(*missing, "X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(serve_ui(get("/ui/../etc/passwd"))->status, 404);
  auto bare = serve_ui(get("/ui"));
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->status, 301);
  EXPECT_EQ(header(*bare, "Location"), "/ui/");
}

TEST(WebUi, OnlyGetAndHeadAreAllowed) {
  auto post = get("/ui/");
  post.method = "POST";
  auto r = serve_ui(post);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(header(*r, "Allow"), "GET, HEAD");
  auto head = get("/ui/");
  head.method = "HEAD";
  EXPECT_EQ(serve_ui(head)->status, 200);
}

TEST(WebUi, ThePageHoldsNoInlineScriptOrHandler) {
  // The policy forbids inline script: the page must work without any.
  auto html = source_file("index.html");
  std::smatch m;
  std::regex script(R"(<script\b[^>]*>)", std::regex::icase);
  for (auto it = std::sregex_iterator(html.begin(), html.end(), script);
       it != std::sregex_iterator(); ++it)
    EXPECT_NE(it->str().find("src="), std::string::npos) << it->str();
  EXPECT_FALSE(std::regex_search(html, m, std::regex(R"(\son[a-z]+\s*=)", std::regex::icase)));
  EXPECT_FALSE(std::regex_search(html, m, std::regex(R"(<style\b)", std::regex::icase)));
  EXPECT_FALSE(std::regex_search(html, m, std::regex(R"(https?://)", std::regex::icase)))
      << "the page works offline: nothing from another origin";
  // And the script never turns data into markup.
  auto js = source_file("app.js");
  for (const auto* sink :
       {"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"})
    EXPECT_EQ(js.find(sink), std::string::npos) << sink;
}

}  // namespace
}  // namespace ab::web
