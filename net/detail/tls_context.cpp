#include "net/detail/tls_context.hpp"

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

/// Restricts `ctx` to what a server of this project needs.
void harden(ssl::context& ctx) {
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_compression |
                  ssl::context::single_dh_use);
  auto* native = ctx.native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  // Client-initiated renegotiation costs the server a handshake per request of an attacker.
  SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_default_passwd_cb(native, no_passphrase);
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
  try {
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
    harden(*ctx);
    if (auto err = load_identity(*ctx, tls)) return err;
    return ctx;
  } catch (const std::exception& e) {
    // Asio throws when OpenSSL cannot even make a context (out of memory).
    return bad(std::string{"no TLS context: "} + e.what());
  }
}

}  // namespace ab::net::detail
