#pragma once

// Throwaway TLS certificates for tests, made in-process with OpenSSL.

#include <filesystem>
#include <string>

namespace ab::testing {

/// A self-signed certificate and its private key, as PEM files.
struct test_cert {
  /// The certificate; also the trust anchor a verifying client needs.
  std::string cert_file;
  /// The unencrypted private key.
  std::string key_file;
};

/// Makes a new EC (P-256) key and a self-signed certificate for the IP address 127.0.0.1 (and
/// the name `localhost`), valid from `from` to `until` seconds from now (by default from a
/// minute ago for a day), written as `NAME.crt` and `NAME.key` (mode 0600) into `dir`.
///
/// Throws `std::runtime_error` if OpenSSL or the file system fails.
test_cert make_test_cert(const std::filesystem::path& dir, const std::string& name = "server",
                         long from = -60, long until = 24 * 3600);

}  // namespace ab::testing
