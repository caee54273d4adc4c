#include "tests/fakes/ipmi_sim.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "harness/child_process.hpp"
#include "tests/fakes/wait.hpp"

namespace ab::testing {

namespace {

using namespace std::chrono_literals;

constexpr const char* sim_binary = "/usr/bin/ipmi_sim";

// ipmi_sim runs it through popen as `chassis_control get NAME...` (print NAME:VALUE lines)
// and `chassis_control set NAME VALUE...` (exit 0); see OpenIPMI's lanserv/extcmd.c.
constexpr const char* chassis_script = R"sh(#!/bin/sh
dir=$(dirname "$0")
state="$dir/chassis.state"
echo "$*" >> "$dir/chassis.calls"
op=$1
shift
if [ "$op" = get ]; then
  for name in "$@"; do
    echo "$name:$(sed -n "s/^$name://p" "$state")"
  done
  exit 0
fi
[ "$op" = set ] || exit 1
while [ $# -ge 2 ]; do
  name=$1
  value=$2
  shift 2
  case "$name" in
    shutdown) name=power value=0 ;;
    reset) continue ;;
  esac
  grep -v "^$name:" "$state" > "$state.new"
  echo "$name:$value" >> "$state.new"
  mv "$state.new" "$state"
done
)sh";

std::string lan_config(const std::string& dir, int port) {
  std::ostringstream out;
  out << "name \"abtest\"\n"
         "set_working_mc 0x20\n"
         "  startlan 1\n"
      << "    addr 127.0.0.1 " << port << "\n"
      << "    priv_limit admin\n"
         "    allowed_auths_callback none md2 md5 straight\n"
         "    allowed_auths_user none md2 md5 straight\n"
         "    allowed_auths_operator none md2 md5 straight\n"
         "    allowed_auths_admin none md2 md5 straight\n"
         "    guid a123456789abcdefa123456789abcdef\n"
         "  endlan\n"
      << "  chassis_control \"" << dir << "/chassis_control\"\n"
      << "  user 2 true \"" << ipmi_sim_process::user << "\" \"" << ipmi_sim_process::password
      << "\" admin 10 none md2 md5 straight\n";
  return out.str();
}

/// The byte that makes the sum of `bytes` zero modulo 256 (IPMI FRU checksums).
std::uint8_t zero_checksum(const std::vector<std::uint8_t>& bytes) {
  unsigned sum = 0;
  for (auto b : bytes) sum += b;
  return static_cast<std::uint8_t>(0x100 - (sum & 0xff));
}

/// FRU data (IPMI Platform Management FRU spec 1.0): a common header and a product area.
std::vector<std::uint8_t> fru_data() {
  std::vector<std::uint8_t> product{0x01, 0x00, 0x00};  // version, length (below), English
  for (const char* text : {ipmi_sim_process::manufacturer, ipmi_sim_process::model, "AB-1000-P",
                           "1.0", ipmi_sim_process::serial, "", ""}) {
    std::string s{text};
    product.push_back(static_cast<std::uint8_t>(0xc0 | s.size()));
    product.insert(product.end(), s.begin(), s.end());
  }
  product.push_back(0xc1);  // end of fields
  while ((product.size() + 1) % 8 != 0) product.push_back(0);
  product[1] = static_cast<std::uint8_t>((product.size() + 1) / 8);
  product.push_back(zero_checksum(product));
  std::vector<std::uint8_t> data{0x01, 0, 0, 0, 0x01, 0, 0};  // product area at offset 8
  data.push_back(zero_checksum(data));
  data.insert(data.end(), product.begin(), product.end());
  return data;
}

std::string emu_commands(bool fru) {
  std::ostringstream out;
  out << "mc_setbmc 0x20\n"
         "mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02\n";
  if (fru) {
    auto data = fru_data();
    out << "mc_add_fru_data 0x20 0 " << data.size() << " data";
    for (auto b : data) out << " 0x" << std::hex << static_cast<unsigned>(b) << std::dec;
    out << "\n";
  }
  out << "mc_enable 0x20\n";
  return out.str();
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream{path} << text;
}

}  // namespace

ipmi_sim_process::ipmi_sim_process(ipmi_sim_options options) {
  char tmpl[] = "/tmp/ab-ipmisim-XXXXXX";
  if (!::mkdtemp(tmpl)) {
    error_ = "cannot make a temp dir";
    return;
  }
  dir_ = tmpl;
  std::filesystem::create_directory(dir_ + "/state");
  write_file(dir_ + "/chassis_control", chassis_script);
  std::filesystem::permissions(dir_ + "/chassis_control", std::filesystem::perms::owner_all);
  write_file(dir_ + "/chassis.state", "power:0\nboot:none\n");
  write_file(dir_ + "/bmc.emu", emu_commands(options.fru));
  if (!std::filesystem::exists(sim_binary)) {
    error_ = std::string{sim_binary} + " is missing (scripts/setup installs openipmi)";
    return;
  }
  // A free port can be taken between choosing and binding it; then another one is tried.
  bool started = false;
  for (int attempt = 0; attempt < 3 && !started; ++attempt) started = start_once();
  if (!started) error_ = "ipmi_sim did not start: " + harness::read_text(dir_ + "/sim.log");
}

ipmi_sim_process::~ipmi_sim_process() {
  stop();
  if (!dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

bool ipmi_sim_process::start_once() {
  port_ = harness::free_port(SOCK_DGRAM);
  write_file(dir_ + "/lan.conf", lan_config(dir_, port_));
  pid_ = harness::spawn_child(
      {sim_binary, "-n", "-c", dir_ + "/lan.conf", "-f", dir_ + "/bmc.emu", "-s", dir_ + "/state"},
      dir_ + "/sim.log");
  bool settled = wait_until(
      [&] {
        if (harness::reaped(pid_)) pid_ = -1;
        return pid_ < 0 || answers_ping();
      },
      10s);
  if (!settled) stop();
  return pid_ > 0;
}

bool ipmi_sim_process::answers_ping() const {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  timeval wait{0, 200000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port_));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // RMCP (version 6, no sequence, class ASF) carrying an ASF presence ping (IANA 4542).
  std::array<std::uint8_t, 12> ping{0x06, 0x00, 0xff, 0x06, 0x00, 0x00,
                                    0x11, 0xbe, 0x80, 0x00, 0x00, 0x00};
  std::array<std::uint8_t, 64> pong{};
  bool ok = ::sendto(fd, ping.data(), ping.size(), 0, reinterpret_cast<sockaddr*>(&addr),
                     sizeof addr) == static_cast<ssize_t>(ping.size()) &&
            ::recv(fd, pong.data(), pong.size(), 0) > 0;
  ::close(fd);
  return ok;
}

std::string ipmi_sim_process::endpoint() const {
  return "127.0.0.1:" + std::to_string(port_);
}

std::string ipmi_sim_process::chassis(const std::string& name) const {
  std::istringstream in{harness::read_text(dir_ + "/chassis.state")};
  std::string value;
  for (std::string line; std::getline(in, line);)
    if (line.rfind(name + ":", 0) == 0) value = line.substr(name.size() + 1);
  return value;
}

std::vector<std::string> ipmi_sim_process::calls() const {
  std::istringstream in{harness::read_text(dir_ + "/chassis.calls")};
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

void ipmi_sim_process::pause() {
  if (pid_ > 0) ::kill(pid_, SIGSTOP);
}

void ipmi_sim_process::resume() {
  if (pid_ > 0) ::kill(pid_, SIGCONT);
}

void ipmi_sim_process::stop() {
  if (pid_ <= 0) return;
  harness::stop_child(pid_, 10s);
  pid_ = -1;
}

}  // namespace ab::testing
