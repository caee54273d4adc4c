#include "bmcsim/command_line.hpp"

#include <exception>
#include <functional>
#include <map>

#include "core/error.hpp"

namespace ab::bmc::sim {

namespace {

caf::error bad(const std::string& option, const std::string& value, const std::string& expected) {
  return make_error(errc::invalid_argument,
                    option + " '" + value + "': expected " + expected + " (see --help)");
}

/// `value` as a number in [lo, hi], or an error naming `option`.
caf::expected<double> number(const std::string& option, const std::string& value, double lo,
                             double hi) {
  try {
    std::size_t used = 0;
    double v = std::stod(value, &used);
    if (used == value.size() && v >= lo && v <= hi) return v;
  } catch (const std::exception&) {
    // Reported below.
  }
  return bad(option, value, "a number from " + std::to_string(lo) + " to " + std::to_string(hi));
}

using setter = std::function<caf::error(command_line&, const std::string&)>;

/// Sets an integer field through `field`.
template <class Field>
setter integer(const char* option, double lo, double hi, Field field) {
  return [=](command_line& cl, const std::string& v) -> caf::error {
    auto n = number(option, v, lo, hi);
    if (!n) return n.error();
    field(cl, static_cast<long long>(*n));
    return caf::none;
  };
}

const std::map<std::string, setter>& setters() {
  static const std::map<std::string, setter> table{
      {"--host",
       [](command_line& cl, const std::string& v) {
         cl.server.host = v;
         return caf::error{};
       }},
      {"--port", integer("--port", 0, 65535,
                         [](command_line& cl, long long n) {
                           cl.server.port = static_cast<std::uint16_t>(n);
                         })},
      {"--threads", integer("--threads", 1, 64,
                            [](command_line& cl, long long n) {
                              cl.server.threads = static_cast<std::size_t>(n);
                            })},
      {"--tls-cert",
       [](command_line& cl, const std::string& v) {
         cl.server.tls.cert_file = v;
         return caf::error{};
       }},
      {"--tls-key",
       [](command_line& cl, const std::string& v) {
         cl.server.tls.key_file = v;
         return caf::error{};
       }},
      {"--hosts", integer("--hosts", 0, 1e6,
                          [](command_line& cl, long long n) {
                            cl.fleet.hosts = static_cast<std::size_t>(n);
                          })},
      {"--host-prefix",
       [](command_line& cl, const std::string& v) {
         cl.fleet.host_prefix = v;
         return caf::error{};
       }},
      {"--user",
       [](command_line& cl, const std::string& v) {
         cl.fleet.user = v;
         return caf::error{};
       }},
      {"--password",
       [](command_line& cl, const std::string& v) {
         cl.fleet.password = v;
         return caf::error{};
       }},
      {"--time-scale",
       [](command_line& cl, const std::string& v) -> caf::error {
         auto n = number("--time-scale", v, 0, 1e6);
         if (!n) return n.error();
         cl.fleet.time_scale = *n;
         return caf::none;
       }},
      {"--reset-min-ms",
       integer("--reset-min-ms", 0, 1e9,
               [](command_line& cl, long long n) { cl.fleet.reset_min_ms = static_cast<int>(n); })},
      {"--reset-max-ms",
       integer("--reset-max-ms", 0, 1e9,
               [](command_line& cl, long long n) { cl.fleet.reset_max_ms = static_cast<int>(n); })},
      {"--erase-ms",
       integer("--erase-ms", 0, 1e9,
               [](command_line& cl, long long n) { cl.fleet.erase_ms = static_cast<int>(n); })},
      {"--install-ms",
       integer("--install-ms", 0, 1e9,
               [](command_line& cl, long long n) { cl.fleet.install_ms = static_cast<int>(n); })},
      {"--callback-attempts", integer("--callback-attempts", 1, 100,
                                      [](command_line& cl, long long n) {
                                        cl.fleet.callback_attempts = static_cast<int>(n);
                                      })},
      {"--callback-threads", integer("--callback-threads", 1, 1024,
                                     [](command_line& cl, long long n) {
                                       cl.fleet.callback_threads = static_cast<std::size_t>(n);
                                     })},
      {"--hang-ms",
       integer("--hang-ms", 0, 1e9,
               [](command_line& cl, long long n) { cl.fleet.hang_ms = static_cast<int>(n); })},
      {"--seed", integer("--seed", 0, 1e15,
                         [](command_line& cl, long long n) {
                           cl.fleet.seed = static_cast<std::uint64_t>(n);
                         })},
      {"--fault",
       [](command_line& cl, const std::string& v) -> caf::error {
         auto spec = parse_fault_spec(v);
         if (!spec) return spec.error();
         cl.fleet.faults.push_back(*spec);
         return caf::none;
       }},
  };
  return table;
}

}  // namespace

caf::expected<command_line> parse_command_line(const std::vector<std::string>& args) {
  command_line cl;
  cl.server.port = 8000;
  cl.server.threads = 2;
  // A simulator is reached by one node, from one address, with as many connections as BMCs.
  cl.server.max_connections_per_peer = cl.server.max_connections;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--help" || args[i] == "-h") {
      cl.help = true;
      continue;
    }
    auto it = setters().find(args[i]);
    if (it == setters().end())
      return make_error(errc::invalid_argument, "unknown option " + args[i] + " (see --help)");
    if (i + 1 == args.size())
      return make_error(errc::invalid_argument, args[i] + " needs a value (see --help)");
    if (auto err = it->second(cl, args[++i])) return err;
  }
  if (cl.server.tls.cert_file.empty() != cl.server.tls.key_file.empty())
    return make_error(errc::invalid_argument, "--tls-cert and --tls-key go together");
  return cl;
}

std::string usage() {
  return R"(Usage: ab-bmcsim [options]
A fleet of simulated Redfish BMCs in one process. BMC <id> answers at
/bmc/<id>/redfish/v1/ (created on first use); the control API is under /sim/.
See docs/bmcsim.md.

  --host ADDR            address to bind (default 127.0.0.1)
  --port N               port to bind, 0 picks a free one (default 8000)
  --threads N            I/O threads (default 2)
  --tls-cert FILE        serve HTTPS with this PEM certificate (with --tls-key)
  --tls-key FILE         the certificate's PEM private key
  --hosts N              create BMCs <prefix>0000 ... at start (default 0)
  --host-prefix P        prefix of those ids (default sim-)
  --user NAME            the accepted user (default admin)
  --password PW          the accepted password (default password)
  --time-scale F         multiply every simulated duration; 0 = instant (default 1)
  --reset-min-ms MS      shortest reset (default 2000)
  --reset-max-ms MS      longest reset (default 6000)
  --erase-ms MS          duration of a secure erase (default 30000)
  --install-ms MS        the simulated OS installer runs this long (default 20000)
  --callback-attempts N  installer callback attempts before giving up (default 4)
  --callback-threads N   installer callbacks in flight at once (default 16)
  --hang-ms MS           a hung request is dropped after MS (default 600000)
  --fault [ID:]K=V,...   inject faults in BMC ID, or all; repeatable. Keys:
                         error_rate=0..1 latency_ms=N hang= drop= garbage=
                         auth_fail= install_fail= install_lost=true|false
  --seed N               seed of the random source (default: random)
  --help                 this text
)";
}

}  // namespace ab::bmc::sim
