#include "tests/fakes/slapd.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "harness/child_process.hpp"
#include "tests/fakes/wait.hpp"

namespace ab::testing {

namespace {

using namespace std::chrono_literals;

constexpr const char* slapd_binary = "/usr/sbin/slapd";
constexpr const char* root_dn = "cn=admin,dc=example,dc=org";
constexpr const char* root_password = "admin-secret";

// Passwords: alice in plain text, the others as slappasswd wrote them ({SSHA}): simple binds
// work with both.
constexpr const char* directory_ldif = R"(dn: dc=example,dc=org
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: ou=people,dc=example,dc=org
objectClass: organizationalUnit
ou: people

dn: ou=groups,dc=example,dc=org
objectClass: organizationalUnit
ou: groups

dn: uid=alice,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: alice
cn: Alice Operator
sn: Operator
userPassword: alice-secret

dn: uid=bob,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: bob
cn: Bob Nobody
sn: Nobody
userPassword: {SSHA}TR7gB79TJ3SSJui9AwFHHUV28cZq4zXo

dn: uid=carol,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: carol
cn: Carol Deployer
sn: Deployer
userPassword: {SSHA}bZEJoPqY8zk7//eAVyHQOtL8FaE6JVW4

dn: uid=o'hara\, k (ops)*,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: o'hara, k (ops)*
cn: K O'Hara
sn: O'Hara
userPassword: ohara-secret

dn: cn=fleet-operators,ou=groups,dc=example,dc=org
objectClass: groupOfNames
cn: fleet-operators
member: uid=alice,ou=people,dc=example,dc=org

dn: cn=auditors,ou=groups,dc=example,dc=org
objectClass: groupOfNames
cn: auditors
member: uid=alice,ou=people,dc=example,dc=org
member: uid=o'hara\, k (ops)*,ou=people,dc=example,dc=org

dn: cn=deployers,ou=groups,dc=example,dc=org
objectClass: posixGroup
cn: deployers
gidNumber: 2001
memberUid: carol
)";

std::string config(const std::string& dir, bool tls) {
  std::ostringstream out;
  out << "include /etc/ldap/schema/core.schema\n"
         "include /etc/ldap/schema/cosine.schema\n"
         "include /etc/ldap/schema/inetorgperson.schema\n"
         "include /etc/ldap/schema/nis.schema\n"
         "modulepath /usr/lib/ldap\n"
         "moduleload back_mdb\n"
         "moduleload memberof\n"
      << "pidfile " << dir << "/slapd.pid\n"
      << "argsfile " << dir << "/slapd.args\n";
  if (tls)
    out << "TLSCACertificateFile " << dir << "/ca.pem\n"
        << "TLSCertificateFile " << dir << "/server.pem\n"
        << "TLSCertificateKeyFile " << dir << "/server.key\n";
  out << "database mdb\n"
         "maxsize 16777216\n"
         "suffix \"dc=example,dc=org\"\n"
      << "rootdn \"" << root_dn << "\"\n"
      << "rootpw " << root_password << "\n"
      << "directory " << dir << "/db\n"
      << "overlay memberof\n"
         "access to attrs=userPassword by anonymous auth by * none\n"
         "access to * by users read by * none\n";
  return out.str();
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream{path} << text;
}

sockaddr_in loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

bool accepts(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  auto addr = loopback(port);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

slapd_process::slapd_process(slapd_options options) : options_(options) {
  char tmpl[] = "/tmp/ab-slapd-XXXXXX";
  if (!::mkdtemp(tmpl)) {
    error_ = "cannot make a temp dir";
    return;
  }
  dir_ = tmpl;
  std::filesystem::create_directory(dir_ + "/db");
  write_file(dir_ + "/slapd.conf", config(dir_, options_.tls));
  write_file(dir_ + "/directory.ldif", directory_ldif);
  if (!std::filesystem::exists(slapd_binary)) {
    error_ = std::string{slapd_binary} + " is missing (scripts/setup installs slapd)";
    return;
  }
  if (options_.tls && !(error_ = make_certificates()).empty()) return;
  // A free port can be taken between choosing and binding it; then slapd exits and another
  // port is tried.
  bool started = false;
  for (int attempt = 0; attempt < 3 && !started; ++attempt) started = start_once();
  if (!started) {
    error_ = "slapd did not start: " + log();
    return;
  }
  error_ = run_tool("loading the directory", {"ldapadd", "-x", "-H", url(), "-D", root_dn, "-w",
                                              root_password, "-f", dir_ + "/directory.ldif"});
  if (!error_.empty()) stop();
}

slapd_process::~slapd_process() {
  stop();
  if (!dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

std::string slapd_process::make_certificates() {
  auto ca = dir_ + "/ca.pem";
  auto ca_key = dir_ + "/ca.key";
  // A self-signed CA, then a server certificate for 127.0.0.1 that it signs.
  auto new_ec_cert = [](const std::string& subject, const std::string& key,
                        const std::string& cert) {
    return std::vector<std::string>{
        "openssl", "req",   "-x509", "-newkey", "ec",    "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes",  "-days", "2",     "-subj",   subject, "-keyout",  key,
        "-out",    cert};
  };
  auto make_cert = new_ec_cert("/CN=127.0.0.1", dir_ + "/server.key", dir_ + "/server.pem");
  make_cert.insert(make_cert.end(),
                   {"-CA", ca, "-CAkey", ca_key, "-addext", "basicConstraints=critical,CA:FALSE",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"});
  auto problem = run_tool("making the test CA", new_ec_cert("/CN=autobuild-test-ca", ca_key, ca));
  return problem.empty() ? run_tool("making the server certificate", make_cert) : problem;
}

bool slapd_process::start_once() {
  port_ = harness::free_port(SOCK_STREAM);
  tls_port_ = options_.tls ? harness::free_port(SOCK_STREAM) : 0;
  auto urls = options_.tls ? url() + " " + ldaps_url() : url();
  // In the foreground (-d), printing errors only.
  pid_ = harness::spawn_child({slapd_binary, "-f", dir_ + "/slapd.conf", "-h", urls, "-d", "none"},
                              dir_ + "/slapd.log");
  bool settled = wait_until(
      [&] {
        if (harness::reaped(pid_)) pid_ = -1;
        return pid_ < 0 || (accepts(port_) && (!options_.tls || accepts(tls_port_)));
      },
      10s);
  if (!settled) stop();
  return pid_ > 0;
}

std::string slapd_process::run_tool(const std::string& what, const std::vector<std::string>& args) {
  auto log_path = dir_ + "/tools.log";
  pid_t pid = harness::spawn_child(args, log_path);
  int code = pid > 0 ? harness::wait_exit(pid, 15s) : -1;
  if (code == 0) return {};
  return what + ": " + args[0] + " failed (exit " + std::to_string(code) +
         "): " + harness::read_text(log_path);
}

std::string slapd_process::log() const {
  return harness::read_text(dir_ + "/slapd.log");
}

std::string slapd_process::url() const {
  return "ldap://127.0.0.1:" + std::to_string(port_) + "/";
}

std::string slapd_process::ldaps_url() const {
  return "ldaps://127.0.0.1:" + std::to_string(tls_port_) + "/";
}

void slapd_process::pause() {
  if (pid_ > 0) ::kill(pid_, SIGSTOP);
}

void slapd_process::resume() {
  if (pid_ > 0) ::kill(pid_, SIGCONT);
}

void slapd_process::stop() {
  if (pid_ <= 0) return;
  harness::stop_child(pid_, 10s);
  pid_ = -1;
}

}  // namespace ab::testing
