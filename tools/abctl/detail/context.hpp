#pragma once

// What every command of `abctl` shares: the invocation, the client, the terminal, and the
// helpers that turn an answer into output or an exit code. Internal to `ab_abctl`.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tools/abctl/abctl.hpp"
#include "tools/abctl/client.hpp"

namespace ab::abctl::detail {

/// One invocation as the commands see it.
struct context {
  const command_line& cl;
  const settings& s;
  api_client& client;
  streams io;

  bool json() const { return s.output == output_format::json; }
  /// Prints `abctl: what` on the error stream, made safe for a terminal.
  void note(const std::string& what) const;
};

/// How one exchange ended.
struct exchange_result {
  /// `exit_ok` when the server answered with one of the expected statuses.
  int code = exit_ok;
  long status = 0;
  /// The answer's JSON (null for an empty body).
  nlohmann::json body;
};

/// Performs `c`; an answer with a status of `ok` (and a JSON body, unless empty) is `exit_ok`;
/// anything else is printed (`abctl: what: ...`) and mapped to its exit code: 404 → 3,
/// 401/403 → 4, no router → 5, a malformed answer → 6, any other refusal → 1.
exchange_result exchange(const context& ctx, const api_call& c, const std::string& what,
                         const std::vector<long>& ok = {200});

/// `exchange` of a call already made.
exchange_result interpret(const context& ctx, const call_result& res, const std::string& what,
                          const std::vector<long>& ok = {200});

/// `path` with `?site=` (or `&site=`) when `--site` was given: the site a router sends the call
/// to.
std::string with_site(const context& ctx, std::string path);

/// The exit code for an answer status that is not a success.
int code_for_status(long status);

/// The worse of two exit codes (the higher one, `exit_ok` the best).
int worse(int a, int b);

/// Epoch milliseconds as `2026-12-01T16:19:18Z`; empty for 0.
std::string utc_time(std::int64_t ms);

/// Lines of `text` that hold a host name each: blank lines and `#` comments skipped, spaces
/// around a name trimmed.
std::vector<std::string> host_lines(const std::string& text);

/// The whole of `path` (`-`: standard input); nullopt if it cannot be read or is over 64 MiB.
std::optional<std::string> read_input(const context& ctx, const std::string& path);

// The commands.
int run_submit(const context& ctx);
int run_status(const context& ctx);
int run_list(const context& ctx);
int run_cancel(const context& ctx);
int run_watch(const context& ctx);
int run_hosts(const context& ctx);
int run_cluster(const context& ctx);
int run_safety(const context& ctx);
int run_waves(const context& ctx);

/// Prints a dry run's answer (`POST /v1/requests` with `"dry_run": true`): the call's checks
/// and a row per host (accepted, chain, failed checks, estimated start and end).
void print_preflight(const context& ctx, const nlohmann::json& answer);

/// Watches `ids` until every request ended (or `--max-wait` passed).
int watch_requests(const context& ctx, const std::vector<std::int64_t>& ids);

}  // namespace ab::abctl::detail
