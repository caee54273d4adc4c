#pragma once

#include <memory>

#include <boost/asio/ssl/context.hpp>
#include <caf/expected.hpp>

#include "net/http_server.hpp"

namespace ab::net::detail {

/// A server context for `tls`: TLS 1.2 or later, no compression, no renegotiation, the
/// certificate chain and the private key loaded and checked against each other.
///
/// An unreadable or unusable file, or a key that does not match the certificate, is a
/// `bad_config` error naming the file and OpenSSL's reason.
caf::expected<std::shared_ptr<boost::asio::ssl::context>> make_tls_context(const tls_settings& tls);

}  // namespace ab::net::detail
