#include "auth/ldap_names.hpp"

#include <algorithm>
#include <memory>

#include <ldap.h>

namespace ab::auth {

namespace {

/// A parsed DN that frees itself.
using parsed_dn = std::unique_ptr<LDAPRDN, decltype(&ldap_dnfree)>;

parsed_dn parse_dn(std::string_view text) {
  LDAPDN dn = nullptr;
  std::string copy{text};
  if (ldap_str2dn(copy.c_str(), &dn, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS) dn = nullptr;
  return {dn, &ldap_dnfree};
}

std::string_view view(const berval& bv) {
  return {bv.bv_val, bv.bv_len};
}

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [&](char x, char y) { return lower(x) == lower(y); });
}

bool same_rdn(LDAPRDN a, LDAPRDN b) {
  for (; *a && *b; ++a, ++b) {
    if (!equal_ignoring_case(view((*a)->la_attr), view((*b)->la_attr)) ||
        !equal_ignoring_case(view((*a)->la_value), view((*b)->la_value)))
      return false;
  }
  return !*a && !*b;
}

std::size_t rdn_count(LDAPDN dn) {
  std::size_t n = 0;
  while (dn[n]) ++n;
  return n;
}

}  // namespace

std::optional<std::string> escape_dn_value(std::string_view value) {
  // libldap formats the one-AVA RDN `x=value` with RFC 4514 escaping; `x=` is cut off again.
  char attr[] = "x";
  LDAPAVA ava{};
  ava.la_attr = {1, attr};
  ava.la_value = {value.size(), const_cast<char*>(value.data())};
  ava.la_flags = LDAP_AVA_STRING;
  LDAPAVA* rdn[] = {&ava, nullptr};
  char* out = nullptr;
  if (ldap_rdn2str(rdn, &out, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS || !out) return std::nullopt;
  std::string escaped{out + 2};
  ldap_memfree(out);
  return escaped;
}

std::string escape_filter_value(std::string_view value) {
  berval in{value.size(), const_cast<char*>(value.data())};
  berval out{0, nullptr};
  if (ldap_bv2escaped_filter_value(&in, &out) != 0) throw std::bad_alloc{};
  std::string escaped{out.bv_val, out.bv_len};
  ber_memfree(out.bv_val);
  return escaped;
}

bool is_dn_template(std::string_view bind_template) {
  return bind_template.find('=') != std::string_view::npos;
}

std::string expand(std::string_view text,
                   const std::vector<std::pair<std::string_view, std::string_view>>& values) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    auto hit = std::find_if(values.begin(), values.end(),
                            [&](const auto& kv) { return text.substr(i).starts_with(kv.first); });
    if (hit == values.end()) {
      out += text[i++];
    } else {
      out += hit->second;
      i += hit->first.size();
    }
  }
  return out;
}

std::string login_problem(std::string_view login, std::string_view bind_template) {
  if (login.empty()) return "the login is empty";
  if (login.size() > max_login_bytes) return "the login is longer than 256 bytes";
  auto control = [](unsigned char c) { return c < 0x20 || c == 0x7f; };
  if (std::any_of(login.begin(), login.end(), control))
    return "the login contains a control character";
  if (!is_dn_template(bind_template) &&
      login.find_first_of("\"/\\[]:;|=,+*?<>@") != std::string_view::npos)
    return "the login contains a character an Active Directory name cannot have";
  return {};
}

std::string bind_name(std::string_view bind_template, std::string_view login) {
  if (!login_problem(login, bind_template).empty()) return {};
  if (!is_dn_template(bind_template)) return expand(bind_template, {{"{user}", login}});
  auto escaped = escape_dn_value(login);
  if (!escaped) return {};
  return expand(bind_template, {{"{user}", *escaped}});
}

bool is_dn(std::string_view dn) {
  return !dn.empty() && parse_dn(dn) != nullptr;
}

std::string first_rdn_value(std::string_view dn) {
  auto parsed = parse_dn(dn);
  if (!parsed || !parsed.get()[0] || !parsed.get()[0][0]) return {};
  return std::string{view(parsed.get()[0][0]->la_value)};
}

bool dn_within(std::string_view dn, std::string_view base) {
  auto inner = parse_dn(dn);
  auto outer = parse_dn(base);
  if (!inner || !outer) return false;
  auto n = rdn_count(inner.get());
  auto m = rdn_count(outer.get());
  if (m > n) return false;
  for (std::size_t i = 0; i < m; ++i)
    if (!same_rdn(inner.get()[n - m + i], outer.get()[i])) return false;
  return true;
}

}  // namespace ab::auth
