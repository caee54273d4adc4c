// abctl's command line and the settings it resolves from flags, environment and the
// configuration file.

#include <filesystem>
#include <fstream>
#include <map>

#include <gtest/gtest.h>

#include "core/error.hpp"
#include "tests/fakes/scratch_dir.hpp"
#include "tools/abctl/options.hpp"

namespace ab::abctl {
namespace {

namespace fs = std::filesystem;

environment env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& k) -> std::optional<std::string> {
    auto it = vars.find(k);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

command_line parsed(const std::vector<std::string>& args) {
  auto cl = parse_command_line(args);
  EXPECT_TRUE(cl) << (cl ? "" : message_of(cl.error()));
  return cl ? *cl : command_line{};
}

std::string refusal(const std::vector<std::string>& args) {
  auto cl = parse_command_line(args);
  EXPECT_FALSE(cl);
  return cl ? "" : message_of(cl.error());
}

void write_private(const fs::path& p, const std::string& text) {
  std::ofstream(p) << text;
  fs::permissions(p, fs::perms::owner_read | fs::perms::owner_write);
}

TEST(AbctlCommandLine, SubmitTakesAnActionHostsAndItsOptionsAnywhere) {
  auto cl = parsed({"--router", "http://a:1", "submit", "reimage", "h1", "--priority", "maas", "h2",
                    "--idempotency-key=k-1", "--param", "image=debian-12", "--router", "http://b:2",
                    "-o", "json"});
  EXPECT_EQ(cl.command, "submit");
  EXPECT_EQ(cl.action, "reimage");
  EXPECT_EQ(cl.hosts, (std::vector<std::string>{"h1", "h2"}));
  EXPECT_EQ(cl.priority, "maas");
  EXPECT_EQ(cl.idempotency_key, "k-1");
  EXPECT_EQ(cl.params, (nlohmann::json{{"image", "debian-12"}}));
  EXPECT_EQ(cl.routers, (std::vector<std::string>{"http://a:1", "http://b:2"}));
  EXPECT_EQ(cl.output, output_format::json);
}

TEST(AbctlCommandLine, SubmitNeedsHostsOrAHostsFile) {
  EXPECT_NE(refusal({"submit", "discover"}).find("needs hosts"), std::string::npos);
  auto cl = parsed({"submit", "discover", "--hosts-file", "-"});
  EXPECT_EQ(cl.hosts_file, "-");
  EXPECT_TRUE(cl.hosts.empty());
}

TEST(AbctlCommandLine, ATokenOnTheCommandLineIsRefused) {
  auto why = refusal({"--token", "secret", "list"});
  EXPECT_NE(why.find("--token-file"), std::string::npos) << why;
  EXPECT_EQ(why.find("secret"), std::string::npos) << "the refusal never repeats the token";
  EXPECT_FALSE(parse_command_line({"list", "--token=secret"}));
}

TEST(AbctlCommandLine, SubCommandsOfHostsAndCluster) {
  EXPECT_EQ(parsed({"hosts", "show", "r1-01"}).name, "r1-01");
  EXPECT_EQ(parsed({"hosts", "register", "--file", "hosts.json"}).file, "hosts.json");
  auto mv = parsed({"cluster", "move", "n1", "build"});
  EXPECT_EQ(mv.command, "cluster move");
  EXPECT_EQ(mv.node, "n1");
  EXPECT_EQ(mv.cluster, "build");
  EXPECT_EQ(parsed({"cluster", "show"}).command, "cluster show");
  EXPECT_FALSE(parse_command_line({"hosts"}));
  EXPECT_FALSE(parse_command_line({"hosts", "frob"}));
  EXPECT_FALSE(parse_command_line({"cluster", "move", "n1"}));
  EXPECT_FALSE(parse_command_line({"hosts", "register"}));
}

TEST(AbctlCommandLine, IdsMustBeRequestIds) {
  EXPECT_EQ(parsed({"status", "1", "42"}).ids, (std::vector<std::int64_t>{1, 42}));
  EXPECT_FALSE(parse_command_line({"status", "x"}));
  EXPECT_FALSE(parse_command_line({"cancel", "-1"}));
  EXPECT_FALSE(parse_command_line({"status", "0"}));
  EXPECT_FALSE(parse_command_line({"status"}));
}

TEST(AbctlCommandLine, WatchTakesIdsOrABatchButNotBoth) {
  EXPECT_EQ(parsed({"watch", "7", "--interval", "0.2"}).interval, std::chrono::milliseconds{200});
  EXPECT_EQ(parsed({"watch", "--batch", "b.json"}).batch_file, "b.json");
  EXPECT_FALSE(parse_command_line({"watch"}));
  EXPECT_FALSE(parse_command_line({"watch", "7", "--batch", "b.json"}));
  EXPECT_FALSE(parse_command_line({"watch", "7", "--interval", "0"}));
  EXPECT_FALSE(parse_command_line({"watch", "7", "--interval", "1s"}));
}

TEST(AbctlCommandLine, AnOptionOfAnotherCommandIsRefused) {
  EXPECT_NE(refusal({"status", "1", "--priority", "maas"}).find("not an option of status"),
            std::string::npos);
  EXPECT_FALSE(parse_command_line({"list", "--frobnicate"}));
  EXPECT_FALSE(parse_command_line({"list", "--limit"}));
  EXPECT_FALSE(parse_command_line({"list", "--limit", "0"}));
  EXPECT_FALSE(parse_command_line({"list", "--all=1"}));
  EXPECT_FALSE(parse_command_line({"list", "-o", "yaml"}));
  EXPECT_FALSE(parse_command_line({"frob"}));
  EXPECT_FALSE(parse_command_line({}));
}

TEST(AbctlCommandLine, ListTakesTheApiFilters) {
  auto cl =
      parsed({"list", "--state", "running", "--host", "h1", "--site", "dc1", "--action", "build",
              "--since", "1700000000000", "--limit", "10", "--cursor", "55", "--all"});
  EXPECT_EQ(cl.state, "running");
  EXPECT_EQ(cl.host, "h1");
  EXPECT_EQ(cl.site, "dc1");
  EXPECT_EQ(cl.action_filter, "build");
  EXPECT_EQ(cl.since, 1700000000000);
  EXPECT_EQ(cl.limit, 10);
  EXPECT_EQ(cl.cursor, "55");
  EXPECT_TRUE(cl.all);
}

TEST(AbctlCommandLine, HelpNeedsNoCommand) {
  EXPECT_TRUE(parsed({"--help"}).help);
  EXPECT_TRUE(parsed({"submit", "-h"}).help);
  EXPECT_NE(usage().find("Exit codes"), std::string::npos);
}

TEST(AbctlSettings, RoutersComeFromFlagsThenEnvironmentThenFile) {
  auto dir = testing::scratch_dir("abctl-settings-");
  auto config = dir / "abctl.json";
  std::ofstream(config) << R"({"routers": ["http://file:1"], "output": "json"})";
  auto env = env_of({{"AB_ROUTERS", "http://env:1/, http://env:2"}});
  auto with_flag = resolve_settings(
      parsed({"--router", "http://flag:1", "--config", config.string(), "list"}), env);
  ASSERT_TRUE(with_flag) << message_of(with_flag.error());
  EXPECT_EQ(with_flag->routers, (std::vector<std::string>{"http://flag:1"}));
  EXPECT_EQ(with_flag->output, output_format::json) << "the file's other settings apply";
  auto from_env = resolve_settings(parsed({"--config", config.string(), "list"}), env);
  ASSERT_TRUE(from_env);
  EXPECT_EQ(from_env->routers, (std::vector<std::string>{"http://env:1", "http://env:2"}));
  auto from_file = resolve_settings(parsed({"--config", config.string(), "list"}), env_of({}));
  ASSERT_TRUE(from_file);
  EXPECT_EQ(from_file->routers, (std::vector<std::string>{"http://file:1"}));
}

TEST(AbctlSettings, TheDefaultFileLivesUnderTheUsersConfigFolder) {
  auto dir = testing::scratch_dir("abctl-home-");
  fs::create_directories(dir / ".config/autobuild");
  std::ofstream(dir / ".config/autobuild/abctl.json") << R"({"routers": ["https://r1:8443"]})";
  auto env = env_of({{"HOME", dir.string()}});
  EXPECT_EQ(default_config_file(env), (dir / ".config/autobuild/abctl.json").string());
  auto s = resolve_settings(parsed({"list"}), env);
  ASSERT_TRUE(s) << message_of(s.error());
  EXPECT_EQ(s->routers, (std::vector<std::string>{"https://r1:8443"}));
  auto none = resolve_settings(parsed({"list"}), env_of({{"HOME", (dir / "nobody").string()}}));
  ASSERT_FALSE(none);
  EXPECT_NE(message_of(none.error()).find("no router"), std::string::npos);
}

TEST(AbctlSettings, ABadConfigurationFileIsNamedWithItsKey) {
  auto dir = testing::scratch_dir("abctl-badconfig-");
  auto config = dir / "abctl.json";
  std::ofstream(config) << R"({"routers": ["http://a:1"], "rooters": []})";
  auto s = resolve_settings(parsed({"--config", config.string(), "list"}), env_of({}));
  ASSERT_FALSE(s);
  EXPECT_NE(message_of(s.error()).find("rooters"), std::string::npos);
  EXPECT_NE(message_of(s.error()).find(config.string()), std::string::npos);
  std::ofstream(config) << R"({"routers": ["http://a:1"], "token": "secret"})";
  EXPECT_FALSE(resolve_settings(parsed({"--config", config.string(), "list"}), env_of({})));
  EXPECT_FALSE(
      resolve_settings(parsed({"--config", (dir / "missing.json").string(), "list"}), env_of({})));
}

TEST(AbctlSettings, TheTokenComesFromAPrivateFileOrTheEnvironment) {
  auto dir = testing::scratch_dir("abctl-token-");
  auto token = dir / "token";
  write_private(token, "tok-123\n");
  auto s =
      resolve_settings(parsed({"--router", "http://a:1", "--token-file", token.string(), "list"}),
                       env_of({{"AB_TOKEN", "from-env"}}));
  ASSERT_TRUE(s) << message_of(s.error());
  EXPECT_EQ(s->token, "tok-123") << "the flag wins over the environment";
  auto e = resolve_settings(parsed({"--router", "http://a:1", "list"}),
                            env_of({{"AB_TOKEN", "from-env"}}));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->token, "from-env");
  // A token file others may read is refused, and so is a token with a control character.
  fs::permissions(token, fs::perms::group_read, fs::perm_options::add);
  auto open = resolve_settings(
      parsed({"--router", "http://a:1", "--token-file", token.string(), "list"}), env_of({}));
  ASSERT_FALSE(open);
  EXPECT_EQ(message_of(open.error()).find("tok-123"), std::string::npos);
  write_private(dir / "crlf", "tok\r\nX-Injected: 1\n");
  auto crlf = resolve_settings(
      parsed({"--router", "http://a:1", "--token-file", (dir / "crlf").string(), "list"}),
      env_of({}));
  ASSERT_TRUE(crlf);
  EXPECT_EQ(crlf->token, "tok") << "only the first line, without its line end";
  write_private(dir / "ctl", "tok\x1b[2J\n");
  EXPECT_FALSE(resolve_settings(
      parsed({"--router", "http://a:1", "--token-file", (dir / "ctl").string(), "list"}),
      env_of({})));
  EXPECT_FALSE(
      resolve_settings(parsed({"--router", "http://a:1", "list"}), env_of({{"AB_TOKEN", "a\nb"}})));
}

TEST(AbctlSettings, RouterUrlsAreChecked) {
  EXPECT_EQ(*normalise_url("https://r1.example:8443/"), "https://r1.example:8443");
  EXPECT_EQ(*normalise_url("http://127.0.0.1:8080/prefix"), "http://127.0.0.1:8080/prefix");
  EXPECT_FALSE(normalise_url("ftp://r1"));
  EXPECT_FALSE(normalise_url("r1:8080"));
  EXPECT_FALSE(normalise_url("http://"));
  EXPECT_FALSE(normalise_url("http://r1/\x1b[31m"));
  EXPECT_FALSE(normalise_url("http://user:pw@r1"));
  EXPECT_FALSE(normalise_url("http://r1 x"));
  EXPECT_FALSE(resolve_settings(parsed({"--router", "r1", "list"}), env_of({})));
}

TEST(AbctlOptions, HoldAndPauseTakeTheirArgumentsAndNeedAReason) {
  auto hold = parsed({"hold", "add", "h1", "h2", "--reason", "disk swap"});
  EXPECT_EQ(hold.command, "hold add");
  EXPECT_EQ(hold.hosts, (std::vector<std::string>{"h1", "h2"}));
  EXPECT_EQ(hold.reason, "disk swap");
  EXPECT_NE(refusal({"hold", "add", "h1"}).find("--reason"), std::string::npos);
  auto pause = parsed({"pause", "resume", "site", "dc1", "--note", "ok"});
  EXPECT_EQ(pause.scope, "site");
  EXPECT_EQ(pause.target, "dc1");
  EXPECT_EQ(pause.note, "ok");
  EXPECT_NE(refusal({"pause", "add", "rack", "r1", "--reason", "x"}).find("scope"),
            std::string::npos);
  EXPECT_FALSE(parse_command_line({"hold", "list", "--reason", "x"}));
}

}  // namespace
}  // namespace ab::abctl
