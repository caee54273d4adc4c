#pragma once

// What `abctl` prints: text that is safe on a terminal whatever a server sent, tables,
// the progress bar and JSON.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace ab::abctl {

/// `s` safe to print on a terminal: printable ASCII and well-formed UTF-8 stay; control
/// characters (C0, DEL, C1, so every escape sequence) become `\xNN`, invisible or reordering
/// marks (bidi controls, zero-width characters, line separators) `\u{XXXX}`, and bytes of
/// malformed UTF-8 `\xNN`.
std::string printable(std::string_view s);

/// The number of characters (code points) of the UTF-8 text `s`.
std::size_t display_width(std::string_view s);

/// A table: a header row and rows, every cell passed through `printable`, columns padded,
/// cells longer than `max_cell` characters cut with `…`.
std::string render_table(const std::vector<std::string>& header,
                         const std::vector<std::vector<std::string>>& rows,
                         std::size_t max_cell = 80);

/// A progress bar of `width` cells for `done` of `total`, e.g. `[#######.......]`.
std::string progress_bar(std::size_t done, std::size_t total, std::size_t width = 30);

/// `j` as JSON text that is safe on a terminal: pretty, every non-ASCII character and
/// control character escaped, malformed UTF-8 replaced; a newline at the end.
std::string json_text(const nlohmann::json& j);

}  // namespace ab::abctl
