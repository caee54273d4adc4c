#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/ssl/context.hpp>
#include <caf/expected.hpp>

#include "net/http/server.hpp"

namespace ab::net::detail {

/// A server context for `tls`: TLS 1.2 or later, TLS 1.2 with forward-secret AEAD suites only
/// (ECDHE with AES-GCM or ChaCha20-Poly1305), no compression, no renegotiation, the
/// certificate chain and the private key loaded and checked against each other.
///
/// An unreadable or unusable file, a key file that group or others may access, or a key that
/// does not match the certificate, is a `bad_config` error naming the file and the reason.
caf::expected<std::shared_ptr<boost::asio::ssl::context>> make_tls_context(const tls_settings& tls);

/// What tells that the certificate or key file changed: modification time, inode (new for a
/// file replaced by rename) and size of each, of the file a link leads to; zeros for a file
/// that is missing.
using file_signature = std::array<std::int64_t, 8>;

/// The signature of the pair `cert_file`, `key_file`.
file_signature signature_of(const std::string& cert_file, const std::string& key_file);

/// What is wrong with the validity period of the certificate `ctx` serves at `now`: not valid
/// yet, expired, or expiring within `warn_before`; none if nothing is.
std::optional<std::string> validity_warning(const boost::asio::ssl::context& ctx, std::time_t now,
                                            std::chrono::hours warn_before);

}  // namespace ab::net::detail
