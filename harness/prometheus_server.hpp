#pragma once

// Debian's real Prometheus server run by a test on loopback: a generated configuration that
// scrapes the targets the caller names every second (with a bearer token file for their
// /metrics), a storage directory of its own, the process watched and stopped by PID, and a
// small client of its HTTP query API.

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ab::harness {

/// One scrape job of a generated Prometheus configuration.
struct scrape_job {
  /// The job label (e.g. "autobuild-node").
  std::string name;
  /// HOST:PORT of each target.
  std::vector<std::string> targets;
  /// A file holding the bearer token sent with each scrape; none when empty.
  std::string token_file;
  /// Labels added to every series of the job's targets (e.g. site).
  std::vector<std::pair<std::string, std::string>> labels;
};

/// The text of a prometheus.yml scraping `jobs` every `interval` (their /metrics), and
/// evaluating `rule_files` at the same interval.
std::string prometheus_config(const std::vector<scrape_job>& jobs,
                              std::chrono::milliseconds interval,
                              const std::vector<std::string>& rule_files = {});

/// A prometheus process on a free 127.0.0.1 port; killed (SIGKILL) by the destructor if
/// running.
class prometheus_server {
 public:
  /// Writes `dir`/prometheus.yml from `config_text`, checks it (`promtool check config`),
  /// starts prometheus with its storage in `dir`/data and its output in `dir`/prometheus.log,
  /// and waits up to 30 s until `/-/ready` answers 200. `ok()` tells whether that happened;
  /// `output()` says why not.
  prometheus_server(const std::string& config_text, const std::string& dir);
  ~prometheus_server();
  prometheus_server(const prometheus_server&) = delete;
  prometheus_server& operator=(const prometheus_server&) = delete;

  /// True if it serves.
  bool ok() const { return port_ != 0; }
  /// The port of its HTTP API, or 0 if it did not come up.
  int port() const { return port_; }
  /// Its process id while it runs; -1 once it ended.
  pid_t pid() const { return pid_; }
  /// What the config check and the server printed so far.
  std::string output() const;

  /// `GET /api/v1/query?query=EXPR`: the `data.result` array of a successful instant query,
  /// or nullopt (with the reason in `error` if given) when it failed or is not a vector.
  std::optional<nlohmann::json> query(const std::string& expr, std::string* error = nullptr) const;
  /// The value of the one sample `expr` yields; nullopt unless it yields exactly one.
  std::optional<double> value(const std::string& expr) const;
  /// `GET path` on its API, parsed; null when the answer is not JSON.
  nlohmann::json get(const std::string& path) const;

  /// Sends SIGTERM (SIGKILL after 10 s) and reaps it; returns its exit code, -1 if it had to
  /// be killed or was not running. Idempotent.
  int stop();

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  std::string log_path_;
};

/// The prometheus binary: `AB_PROMETHEUS` if set, else /usr/bin/prometheus.
std::string prometheus_binary();
/// The promtool binary: `AB_PROMTOOL` if set, else /usr/bin/promtool.
std::string promtool_binary();

}  // namespace ab::harness
