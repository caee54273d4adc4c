#pragma once

// The `abctl` command line and the settings it resolves (routers, token, TLS) from the
// command line, the environment and the configuration file.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <caf/expected.hpp>
#include <nlohmann/json.hpp>

namespace ab::abctl {

/// The exit codes of `abctl`, documented in docs/abctl.md for scripts.
enum exit_code : int {
  /// Everything asked for was done (and, for `watch`, every request succeeded).
  exit_ok = 0,
  /// The server refused the call, or a request failed or was cancelled, or part of a batch.
  exit_failed = 1,
  /// A bad command line, configuration file, token file or input file.
  exit_usage = 2,
  /// A request or host that does not exist (or that the caller may not see).
  exit_not_found = 3,
  /// No credentials, wrong ones, or the policy does not allow the call (401, 403).
  exit_auth = 4,
  /// No router answered: refused or timed-out connections, 502, 503 or 429 everywhere.
  exit_unreachable = 5,
  /// A server's answer that is not what the API says (not JSON, wrong types).
  exit_bad_answer = 6,
  /// `watch --max-wait` passed while some requests were still queued or running.
  exit_gave_up = 7,
};

/// How results are printed.
enum class output_format { table, json };

/// A parsed `abctl` invocation: global options, the command and its own options.
struct command_line {
  // Global options.
  /// `--router URL`, in the order given (repeatable).
  std::vector<std::string> routers;
  /// `--config FILE`; empty: the default file, if it exists.
  std::string config_file;
  std::string token_file;
  std::string ca_file;
  std::optional<output_format> output;
  /// `--timeout SECONDS`: deadline of one HTTP exchange.
  std::optional<std::chrono::milliseconds> timeout;
  /// `--retries N`: extra rounds over every router when none answered.
  std::optional<int> retries;
  bool help = false;

  /// The command: `submit`, `status`, `list`, `cancel`, `watch`, `hosts register`,
  /// `hosts list`, `hosts show`, `cluster show`, `cluster move`, `waves create`, `waves list`,
  /// `waves show` or `waves stop`; empty with `--help` alone.
  std::string command;

  // submit
  std::string action;
  /// Hosts named on the command line.
  std::vector<std::string> hosts;
  /// `--hosts-file FILE`: one host per line (`-` reads standard input).
  std::string hosts_file;
  std::string priority;
  std::string idempotency_key;
  /// `--param KEY=VALUE` (strings) and `--params JSON` (an object) merged.
  nlohmann::json params = nlohmann::json::object();
  /// `submit --watch`: watch the accepted requests until they end.
  bool watch = false;
  /// `--dry-run` (submit, waves create): ask what the call would do; nothing changes.
  bool dry_run = false;
  /// `--confirm-hosts N` (submit, waves create): the host count a destructive bulk call
  /// confirms.
  std::optional<std::int64_t> confirm_hosts;

  // waves create
  std::optional<int> max_unavailable, wave_size, failure_threshold;
  std::optional<std::int64_t> pause_s;
  std::string group_by;

  // status, cancel, watch
  std::vector<std::int64_t> ids;
  /// `watch --batch FILE`: the JSON `submit --output json` printed, or one id per line.
  std::string batch_file;
  std::chrono::milliseconds interval{2000};
  std::optional<std::chrono::milliseconds> max_wait;

  /// `--site`: a filter of `list` and `hosts list`; elsewhere the site a router sends the
  /// call to (`?site=`, which a node ignores).
  std::string site;
  // list, hosts list
  std::string state, host, action_filter, cursor, after;
  std::optional<std::int64_t> since;
  std::optional<int> limit;
  /// `--all`: follow the pages to the end.
  bool all = false;

  // hosts register, hosts show, cluster move
  std::string file;
  std::string name;
  std::string node, cluster;
  // hold, pause
  std::string reason, note, scope, target;
};

/// The usage text.
std::string usage();

/// Parses the arguments (without the program name). A mistake is `errc::invalid_argument`
/// naming it; `--token` (a secret on the command line) is refused.
caf::expected<command_line> parse_command_line(const std::vector<std::string>& args);

/// Reads an environment variable; nullopt when unset.
using environment = std::function<std::optional<std::string>(const std::string&)>;

/// What every call needs: where to send it and as whom.
struct settings {
  /// Base URLs (`http(s)://host:port[/prefix]`, no trailing slash), tried in this order.
  std::vector<std::string> routers;
  /// The bearer token; empty for an open API.
  std::string token;
  std::string ca_file;
  output_format output = output_format::table;
  std::chrono::milliseconds timeout{30000};
  int retries = 2;
};

/// The default configuration file: `$XDG_CONFIG_HOME/autobuild/abctl.json`, or
/// `$HOME/.config/autobuild/abctl.json`; empty when neither variable is set.
std::string default_config_file(const environment& env);

/// Resolves the settings: the command line first, then `AB_ROUTERS` / `AB_TOKEN`, then the
/// configuration file (`--config`, or the default one when it exists). A missing router, a bad
/// URL, a bad file, or a token file that group or others may read is `errc::invalid_argument`.
caf::expected<settings> resolve_settings(const command_line& cl, const environment& env);

/// The sentence an `abctl` error carries, without the name of its code.
std::string sentence(const caf::error& err);

/// `url` checked and normalised (`http://` or `https://`, a host, no whitespace or control
/// characters; the trailing `/` removed).
caf::expected<std::string> normalise_url(const std::string& url);

}  // namespace ab::abctl
