#include "net/http/detail/tls_context.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <optional>
#include <string>
#include <system_error>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "core/error.hpp"
#include "core/private_file.hpp"

namespace ab::net::detail {

namespace {

namespace ssl = boost::asio::ssl;

using bio_ptr = std::unique_ptr<BIO, decltype(&BIO_free)>;
using key_ptr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

/// Refuses every passphrase request: keys must be unencrypted, and OpenSSL must never wait for
/// someone to type one on a terminal.
int no_passphrase(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*user*/) {
  return 0;
}

/// A start-up error about serving HTTPS.
caf::error bad(const std::string& why) {
  return make_error(errc::bad_config, "cannot serve HTTPS: " + why + ".");
}

/// OpenSSL's first (most specific) reason for the last failure, e.g. `PEM routines: no start
/// line`; clears OpenSSL's error queue of this thread.
std::string openssl_reason() {
  auto e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown reason";
  const char* lib = ERR_lib_error_string(e);
  const char* reason = ERR_reason_error_string(e);
  std::string out = lib ? std::string{lib} + ": " : std::string{};
  return out + (reason ? reason : "error " + std::to_string(ERR_GET_REASON(e)));
}

/// Why the file at `path` cannot be read, or nothing if it can.
std::optional<std::string> unreadable(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return std::error_code{errno, std::generic_category()}.message();
  std::fclose(f);
  return std::nullopt;
}

/// TLS 1.2 suites offered: forward-secret key exchange (ECDHE) with an AEAD cipher only, no
/// CBC, no static RSA; TLS 1.3 suites are all of that by design and stay OpenSSL's defaults.
constexpr const char* tls12_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

/// `t` as OpenSSL prints it, e.g. `Dec  1 10:00:00 2026 GMT`.
std::string asn1_text(const ASN1_TIME* t) {
  bio_ptr out{BIO_new(BIO_s_mem()), BIO_free};
  if (!out || ASN1_TIME_print(out.get(), t) != 1) return "an unreadable date";
  char* data = nullptr;
  auto n = BIO_get_mem_data(out.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

/// Restricts `ctx` to what a server of this project needs.
caf::error harden(ssl::context& ctx) {
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_compression |
                  ssl::context::single_dh_use);
  auto* native = ctx.native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  // Client-initiated renegotiation costs the server a handshake per request of an attacker.
  SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_default_passwd_cb(native, no_passphrase);
  if (SSL_CTX_set_cipher_list(native, tls12_ciphers) != 1)
    return bad("no TLS 1.2 cipher suite left (" + openssl_reason() + ")");
  return caf::none;
}

/// The private key in the PEM file `path`.
caf::expected<key_ptr> read_key(const std::string& path) {
  bio_ptr in{BIO_new_file(path.c_str(), "r"), BIO_free};
  key_ptr key{in ? PEM_read_bio_PrivateKey(in.get(), nullptr, no_passphrase, nullptr) : nullptr,
              EVP_PKEY_free};
  if (!key)
    return bad("private key file " + path + ": no PEM private key in it (" + openssl_reason() +
               ")");
  return key;
}

/// Loads the certificate chain and the matching private key of `tls` into `ctx`.
caf::error load_identity(ssl::context& ctx, const tls_settings& tls) {
  auto* native = ctx.native_handle();
  ERR_clear_error();
  if (SSL_CTX_use_certificate_chain_file(native, tls.cert_file.c_str()) != 1)
    return bad("certificate file " + tls.cert_file + ": no PEM certificate chain in it (" +
               openssl_reason() + ")");
  auto key = read_key(tls.key_file);
  if (!key) return key.error();
  if (X509_check_private_key(SSL_CTX_get0_certificate(native), key->get()) != 1)
    return bad("private key file " + tls.key_file + " does not match the certificate in " +
               tls.cert_file + " (" + openssl_reason() + ")");
  if (SSL_CTX_use_PrivateKey(native, key->get()) != 1)
    return bad("private key file " + tls.key_file + ": " + openssl_reason());
  return caf::none;
}

}  // namespace

caf::expected<std::shared_ptr<ssl::context>> make_tls_context(const tls_settings& tls) {
  if (tls.cert_file.empty() || tls.key_file.empty())
    return bad("a certificate file and a private key file are both needed");
  for (const auto* path : {&tls.cert_file, &tls.key_file})
    if (auto why = unreadable(*path))
      return bad((path == &tls.cert_file ? "certificate file " : "private key file ") + *path +
                 ": cannot be read: " + *why);
  if (auto err = check_private_file(tls.key_file, "private key file")) return bad(message_of(err));
  try {
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
    if (auto err = harden(*ctx)) return err;
    if (auto err = load_identity(*ctx, tls)) return err;
    return ctx;
  } catch (const std::exception& e) {
    // Asio throws when OpenSSL cannot even make a context (out of memory).
    return bad(std::string{"no TLS context: "} + e.what());
  }
}

file_signature signature_of(const std::string& cert_file, const std::string& key_file) {
  file_signature out{};
  std::size_t i = 0;
  for (const auto* path : {&cert_file, &key_file}) {
    struct stat st {};
    if (::stat(path->c_str(), &st) == 0) {
      out[i] = st.st_mtim.tv_sec;
      out[i + 1] = st.st_mtim.tv_nsec;
      out[i + 2] = static_cast<std::int64_t>(st.st_ino);
      out[i + 3] = static_cast<std::int64_t>(st.st_size);
    }
    i += 4;
  }
  return out;
}

std::optional<std::string> validity_warning(const ssl::context& ctx, std::time_t now,
                                            std::chrono::hours warn_before) {
  auto* cert = SSL_CTX_get0_certificate(const_cast<ssl::context&>(ctx).native_handle());
  if (!cert) return std::nullopt;
  const ASN1_TIME* not_before = X509_get0_notBefore(cert);
  const ASN1_TIME* not_after = X509_get0_notAfter(cert);
  if (X509_cmp_time(not_before, &now) > 0)
    return "the server certificate is not valid yet (valid from " + asn1_text(not_before) +
           "); clients will refuse it";
  if (X509_cmp_time(not_after, &now) < 0)
    return "the server certificate expired (valid until " + asn1_text(not_after) +
           "); clients will refuse it";
  std::time_t soon = now + std::chrono::duration_cast<std::chrono::seconds>(warn_before).count();
  if (X509_cmp_time(not_after, &soon) < 0)
    return "the server certificate expires soon (valid until " + asn1_text(not_after) + ")";
  return std::nullopt;
}

}  // namespace ab::net::detail
