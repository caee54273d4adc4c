#include "tests/fakes/test_cert.hpp"

#include <atomic>
#include <memory>
#include <stdexcept>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace ab::testing {

namespace {

using key_ptr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using cert_ptr = std::unique_ptr<X509, decltype(&X509_free)>;
using bio_ptr = std::unique_ptr<BIO, decltype(&BIO_free)>;

/// Throws unless `ok`, with OpenSSL's reason.
void check(bool ok, const char* what) {
  if (ok) return;
  char reason[256] = {};
  ERR_error_string_n(ERR_get_error(), reason, sizeof reason);
  ERR_clear_error();
  throw std::runtime_error(std::string{"test certificate: "} + what + ": " + reason);
}

/// Adds the v3 extension `nid` with `value` (in `openssl x509` syntax) to self-signed `cert`.
void add_extension(X509* cert, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  std::unique_ptr<X509_EXTENSION, decltype(&X509_EXTENSION_free)> ext{
      X509V3_EXT_conf_nid(nullptr, &ctx, nid, value), X509_EXTENSION_free};
  check(ext != nullptr, value);
  check(X509_add_ext(cert, ext.get(), -1) == 1, value);
}

/// A self-signed certificate for `key`, valid from `from` to `until` seconds from now.
cert_ptr self_signed(EVP_PKEY* key, long from, long until) {
  cert_ptr cert{X509_new(), X509_free};
  check(cert != nullptr, "X509_new");
  X509_set_version(cert.get(), 2);
  // Distinct serials keep two certificates of one test apart.
  static std::atomic<long> serial{1};
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial++);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), from);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), until);
  check(X509_set_pubkey(cert.get(), key) == 1, "X509_set_pubkey");
  auto* subject = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("127.0.0.1"), -1, -1, 0);
  check(X509_set_issuer_name(cert.get(), subject) == 1, "X509_set_issuer_name");
  add_extension(cert.get(), NID_basic_constraints, "critical,CA:TRUE");
  add_extension(cert.get(), NID_subject_key_identifier, "hash");
  add_extension(cert.get(), NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost");
  check(X509_sign(cert.get(), key, EVP_sha256()) > 0, "X509_sign");
  return cert;
}

/// A BIO writing the file `path`.
bio_ptr open_for_writing(const std::filesystem::path& path) {
  bio_ptr out{BIO_new_file(path.c_str(), "w"), BIO_free};
  check(out != nullptr, path.c_str());
  return out;
}

}  // namespace

test_cert make_test_cert(const std::filesystem::path& dir, const std::string& name, long from,
                         long until) {
  key_ptr key{EVP_EC_gen("P-256"), EVP_PKEY_free};
  check(key != nullptr, "EVP_EC_gen");
  auto cert = self_signed(key.get(), from, until);
  test_cert out{(dir / (name + ".crt")).string(), (dir / (name + ".key")).string()};
  check(PEM_write_bio_X509(open_for_writing(out.cert_file).get(), cert.get()) == 1,
        "writing the certificate");
  check(PEM_write_bio_PrivateKey(open_for_writing(out.key_file).get(), key.get(), nullptr, nullptr,
                                 0, nullptr, nullptr) == 1,
        "writing the key");
  // As a server requires of a private key.
  std::filesystem::permissions(
      out.key_file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  return out;
}

}  // namespace ab::testing
