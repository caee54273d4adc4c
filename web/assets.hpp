#pragma once

#include <span>
#include <string_view>

namespace ab::web {

/// One file of the operator's view, compiled into the binary (cmake/embed_files.cmake).
struct asset {
  /// The file's name under `web/ui/`, e.g. `app.js`.
  std::string_view name;
  /// Its `Content-Type`, from its extension.
  std::string_view content_type;
  /// A strong ETag, quoted: the start of the SHA-256 of its bytes.
  std::string_view etag;
  /// Its bytes.
  std::string_view body;
};

/// Every file of `web/ui/`, sorted by name (generated at build time).
std::span<const asset> assets();

/// The asset called `name`, or null.
const asset* find_asset(std::string_view name);

}  // namespace ab::web
