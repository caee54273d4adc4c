#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/expected.hpp>
#include <nlohmann/json_fwd.hpp>

#include "bmcsim/faults.hpp"
#include "core/clock.hpp"
#include "net/http/server.hpp"

namespace ab::bmc::sim {

/// How a simulated fleet behaves; see docs/bmcsim.md.
struct fleet_options {
  /// The credentials every BMC accepts (Basic, or a session's X-Auth-Token).
  std::string user = "admin";
  std::string password = "password";
  /// Multiplies every simulated duration (reset, erase); 0 makes them instant.
  double time_scale = 1;
  /// A reset takes a random time between these, in ms (before scaling).
  int reset_min_ms = 2000;
  int reset_max_ms = 6000;
  /// A secure erase takes this long, in ms (before scaling).
  int erase_ms = 30000;
  /// The simulated installer runs this long, in ms (before scaling), then calls back.
  int install_ms = 20000;
  /// Deadline of one callback POST, in ms (not scaled).
  int callback_timeout_ms = 5000;
  /// Callback attempts before the installer gives up; the wait between them doubles from
  /// `callback_backoff_ms` (not scaled).
  int callback_attempts = 4;
  int callback_backoff_ms = 500;
  /// Callbacks in flight at once: the threads that POST them (each blocks on its POST), as
  /// many installers report at the same time.
  std::size_t callback_threads = 16;
  /// A hung request is dropped after this many ms (not scaled).
  int hang_ms = 600000;
  /// BMCs created at start, named `host_prefix` + 4 digits (`sim-0000`, …).
  std::size_t hosts = 0;
  std::string host_prefix = "sim-";
  /// Faults set at start.
  std::vector<fault_spec> faults;
  /// Seed of the random source (reset delays, error rate); 0 seeds from the OS.
  std::uint64_t seed = 0;
};

/// A fleet of simulated Redfish BMCs behind one HTTP handler.
///
/// BMC `<id>` has its service root at `/bmc/<id>/redfish/v1/` and is created on first use; the
/// control API is under `/sim/`. Thread-safe: the handler may run on several I/O threads.
class fleet {
 public:
  /// A fleet with `options`, reading time from `clk`.
  explicit fleet(fleet_options options, std::shared_ptr<ab::clock> clk = nullptr);
  fleet(const fleet&) = delete;
  fleet& operator=(const fleet&) = delete;

  /// Stops the timers and the installer's callbacks; delayed and hung requests are dropped.
  ~fleet();

  /// Answers one request (the `net::handler`); never blocks.
  void handle(net::http_request&& req, net::responder respond);

  /// Sets the faults of BMC `id`, or of the whole fleet when `id` is empty.
  void set_faults(const std::string& id, const fault_set& faults);

  /// Number of BMCs.
  std::size_t size() const;

  /// The state of BMC `id` as `GET /sim/bmc/<id>` shows it; nullopt if there is none.
  std::optional<nlohmann::json> state_of(const std::string& id) const;

  /// What `GET /sim/stats` answers: requests served, logins, logouts, open sessions, BMCs,
  /// and the installer's callbacks (sent, most in flight at once).
  nlohmann::json stats() const;

  /// The id of the `n`-th BMC created at start.
  std::string host_id(std::size_t n) const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// A fleet served over HTTP(S) by `net::http_server`.
class fleet_server {
 public:
  /// Starts serving `options` on `server`; errors as `http_server::start`.
  static caf::expected<std::unique_ptr<fleet_server>> start(fleet_options options,
                                                            net::server_options server);

  /// The port bound.
  std::uint16_t port() const { return server_->port(); }

  /// The fleet, for tests that look at it directly.
  class fleet& sim() {
    return *fleet_;
  }

 private:
  fleet_server() = default;

  // Declared first so it outlives the server whose handler uses it.
  std::unique_ptr<class fleet> fleet_;
  std::unique_ptr<net::http_server> server_;
};

}  // namespace ab::bmc::sim
