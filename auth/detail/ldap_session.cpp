#include "auth/detail/ldap_session.hpp"

#include <algorithm>
#include <cctype>
#include <iterator>
#include <memory>
#include <sstream>

#include <ldap.h>

namespace ab::auth::detail {

namespace {

timeval to_timeval(std::chrono::milliseconds d) {
  return {static_cast<time_t>(d.count() / 1000), static_cast<suseconds_t>(d.count() % 1000 * 1000)};
}

/// Search results that free themselves.
using messages = std::unique_ptr<LDAPMessage, decltype(&ldap_msgfree)>;

std::string take_string(char* s) {
  if (!s) return {};
  std::string out{s};
  ldap_memfree(s);
  return out;
}

bool uses_ldaps(std::string url) {
  for (auto& c : url) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return url.find("ldaps://") != std::string::npos;
}

/// The longest a session may last: connecting to each URL, then the exchange.
std::chrono::milliseconds session_limit(const ldap_options& o) {
  std::istringstream urls{o.url};
  auto count = std::distance(std::istream_iterator<std::string>{urls}, {});
  return o.network_timeout * std::max<std::ptrdiff_t>(count, 1) + o.operation_timeout;
}

/// libldap's connect callback: hands each new socket to the session's guard.
int watch_socket(LDAP*, Sockbuf* sb, LDAPURLDesc*, sockaddr*, ldap_conncb* self) {
  ber_socket_t fd = -1;
  if (ber_sockbuf_ctrl(sb, LBER_SB_OPT_GET_FD, &fd) == 1 && fd >= 0)
    static_cast<connection_guard*>(self->lc_arg)->watch(fd);
  return 0;
}

void ignore_close(LDAP*, Sockbuf*, ldap_conncb*) {}

ldap_entry read_entry(LDAP* ld, LDAPMessage* entry, const std::vector<std::string>& attributes) {
  ldap_entry out{take_string(ldap_get_dn(ld, entry)), {}};
  for (const auto& name : attributes) {
    berval** values = ldap_get_values_len(ld, entry, name.c_str());
    for (int i = 0; values && values[i]; ++i)
      out.values[name].emplace_back(values[i]->bv_val, values[i]->bv_len);
    ldap_value_free_len(values);
  }
  return out;
}

}  // namespace

ldap_session::ldap_session(const ldap_options& options)
    : guard_(session_limit(options)),
      on_connect_{watch_socket, ignore_close, &guard_},
      tls_(options.start_tls || uses_ldaps(options.url)),
      operation_limit_(options.operation_timeout),
      operation_timeout_(to_timeval(options.operation_timeout)) {
  int rc = ldap_initialize(&ld_, options.url.c_str());
  status_ = rc == LDAP_SUCCESS ? configure(options) : ldap_status{rc, ldap_err2string(rc)};
}

ldap_session::~ldap_session() {
  // Sends an unbind if connected (no answer is awaited) and frees the handle.
  if (ld_) ldap_unbind_ext_s(ld_, nullptr, nullptr);
}

ldap_status ldap_session::configure(const ldap_options& options) {
  int version = LDAP_VERSION3;
  auto network = to_timeval(options.network_timeout);
  // The server's search time limit, in whole seconds, at least one.
  int time_limit = static_cast<int>((options.operation_timeout.count() + 999) / 1000);
  bool ok = ldap_set_option(ld_, LDAP_OPT_PROTOCOL_VERSION, &version) == LDAP_OPT_SUCCESS &&
            ldap_set_option(ld_, LDAP_OPT_REFERRALS, LDAP_OPT_OFF) == LDAP_OPT_SUCCESS &&
            ldap_set_option(ld_, LDAP_OPT_NETWORK_TIMEOUT, &network) == LDAP_OPT_SUCCESS &&
            ldap_set_option(ld_, LDAP_OPT_TIMEOUT, &operation_timeout_) == LDAP_OPT_SUCCESS &&
            ldap_set_option(ld_, LDAP_OPT_TIMELIMIT, &time_limit) == LDAP_OPT_SUCCESS &&
            ldap_set_option(ld_, LDAP_OPT_CONNECT_CB, &on_connect_) == LDAP_OPT_SUCCESS;
  if (!ok) return {LDAP_LOCAL_ERROR, "libldap refused the connection options"};
  if (!tls_) return {};
  // Certificates are verified whatever ldap.conf says; the context is made per connection so
  // that ca_file applies to this handle only.
  int demand = LDAP_OPT_X_TLS_DEMAND;
  int client = 0;
  ok = ldap_set_option(ld_, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand) == LDAP_OPT_SUCCESS &&
       (options.ca_file.empty() || ldap_set_option(ld_, LDAP_OPT_X_TLS_CACERTFILE,
                                                   options.ca_file.c_str()) == LDAP_OPT_SUCCESS) &&
       ldap_set_option(ld_, LDAP_OPT_X_TLS_NEWCTX, &client) == LDAP_OPT_SUCCESS;
  if (!ok) return {LDAP_LOCAL_ERROR, "cannot set up TLS (ca_file '" + options.ca_file + "')"};
  return {};
}

ldap_status ldap_session::failure(int code) const {
  if (guard_.expired())
    return {LDAP_TIMEOUT, "no answer in time: the login's time is up, the connection was cut"};
  if (code == LDAP_TIMEOUT)
    return {code, "no answer within " + std::to_string(operation_limit_.count()) + " ms"};
  // libldap reports a failed handshake as a failed connection; the guard knows better.
  bool handshake =
      tls_ && guard_.connected() && (code == LDAP_SERVER_DOWN || code == LDAP_CONNECT_ERROR);
  ldap_status out{code, handshake ? "TLS handshake failed (is the server's certificate from a "
                                    "CA in ca_file, and for this host name?)"
                                  : ldap_err2string(code)};
  char* diagnostic = nullptr;
  if (ldap_get_option(ld_, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diagnostic) == LDAP_OPT_SUCCESS) {
    auto text = take_string(diagnostic);
    // GnuTLS failures arrive as the unhelpful "(unknown error code)".
    if (!text.empty() && text != "(unknown error code)") out.reason += " (" + text + ")";
  }
  return out;
}

ldap_status ldap_session::start_tls() {
  int rc = ldap_start_tls_s(ld_, nullptr, nullptr);
  return rc == LDAP_SUCCESS ? ldap_status{} : failure(rc);
}

ldap_status ldap_session::bind(const std::string& name, const std::string& password) {
  berval credentials{password.size(), const_cast<char*>(password.data())};
  int rc = ldap_sasl_bind_s(ld_, name.c_str(), LDAP_SASL_SIMPLE, &credentials, nullptr, nullptr,
                            nullptr);
  return rc == LDAP_SUCCESS ? ldap_status{} : failure(rc);
}

search_result ldap_session::search(const search_request& request) {
  // "1.1" asks for no attributes at all (RFC 4511).
  std::vector<std::string> names = request.attributes;
  if (names.empty()) names.emplace_back("1.1");
  std::vector<char*> attributes;
  attributes.reserve(names.size() + 1);
  for (auto& name : names) attributes.push_back(name.data());
  attributes.push_back(nullptr);
  LDAPMessage* raw = nullptr;
  auto timeout = operation_timeout_;
  int rc = ldap_search_ext_s(ld_, request.base.c_str(),
                             request.subtree ? LDAP_SCOPE_SUBTREE : LDAP_SCOPE_BASE,
                             request.filter.c_str(), attributes.data(), 0, nullptr, nullptr,
                             &timeout, request.size_limit, &raw);
  messages held{raw, &ldap_msgfree};
  search_result out{rc == LDAP_SUCCESS ? ldap_status{} : failure(rc), {}};
  for (auto* e = raw ? ldap_first_entry(ld_, raw) : nullptr; e; e = ldap_next_entry(ld_, e))
    out.entries.push_back(read_entry(ld_, e, request.attributes));
  return out;
}

}  // namespace ab::auth::detail
