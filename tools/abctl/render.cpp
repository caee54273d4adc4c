#include "tools/abctl/render.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>

namespace ab::abctl {

namespace {

/// The length of the well-formed UTF-8 sequence starting at `s[i]` and its code point; 0 when
/// the bytes there are not one (overlong, surrogate, beyond U+10FFFF, cut short).
std::size_t utf8_sequence(std::string_view s, std::size_t i, char32_t& cp) {
  auto b = static_cast<unsigned char>(s[i]);
  std::size_t len = 0;
  char32_t min = 0;
  if (b >= 0xc2 && b <= 0xdf) {
    len = 2, cp = b & 0x1f, min = 0x80;
  } else if (b >= 0xe0 && b <= 0xef) {
    len = 3, cp = b & 0x0f, min = 0x800;
  } else if (b >= 0xf0 && b <= 0xf4) {
    len = 4, cp = b & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    auto c = static_cast<unsigned char>(s[i + k]);
    if ((c & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (c & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return len;
}

/// True for a code point that a terminal does not show as itself: C1 controls, bidi
/// controls, zero-width characters, line and paragraph separators, the BOM.
bool hidden(char32_t cp) {
  return (cp >= 0x80 && cp <= 0x9f) || cp == 0xad || cp == 0x061c || cp == 0x180e ||
         (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202e) ||
         (cp >= 0x2060 && cp <= 0x206f) || cp == 0xfeff || (cp >= 0xfff9 && cp <= 0xfffb) ||
         (cp >= 0xe0000 && cp <= 0xe007f);
}

std::string hex_byte(unsigned char b) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "\\x%02x", b);
  return buf;
}

/// `s` cut to `max` characters, with `…` when it was longer.
std::string cut(const std::string& s, std::size_t max) {
  if (display_width(s) <= max) return s;
  std::string out;
  std::size_t chars = 0;
  for (std::size_t i = 0; i < s.size() && chars + 1 < max; ++chars) {
    char32_t cp = 0;
    auto len = utf8_sequence(s, i, cp);
    if (len == 0) len = 1;
    out.append(s, i, len);
    i += len;
  }
  return out + "…";
}

}  // namespace

std::string printable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    auto b = static_cast<unsigned char>(s[i]);
    if (b >= 0x20 && b < 0x7f) {
      out += static_cast<char>(b);
      ++i;
      continue;
    }
    if (b < 0x80) {  // C0 control characters and DEL
      out += hex_byte(b);
      ++i;
      continue;
    }
    char32_t cp = 0;
    auto len = utf8_sequence(s, i, cp);
    if (len == 0) {
      out += hex_byte(b);
      ++i;
    } else if (hidden(cp)) {
      char buf[16];
      std::snprintf(buf, sizeof buf, "\\u{%04X}", static_cast<unsigned>(cp));
      out += buf;
      i += len;
    } else {
      out.append(s.substr(i, len));
      i += len;
    }
  }
  return out;
}

std::size_t display_width(std::string_view s) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < s.size(); ++n) {
    char32_t cp = 0;
    auto len = utf8_sequence(s, i, cp);
    i += len ? len : 1;
  }
  return n;
}

std::string render_table(const std::vector<std::string>& header,
                         const std::vector<std::vector<std::string>>& rows, std::size_t max_cell) {
  std::vector<std::vector<std::string>> cells;
  cells.reserve(rows.size() + 1);
  cells.push_back(header);
  for (const auto& r : rows) {
    std::vector<std::string> row;
    row.reserve(r.size());
    for (const auto& c : r) row.push_back(cut(printable(c), max_cell));
    cells.push_back(std::move(row));
  }
  std::vector<std::size_t> width(header.size(), 0);
  for (const auto& row : cells)
    for (std::size_t i = 0; i < row.size() && i < width.size(); ++i)
      width[i] = std::max(width[i], display_width(row[i]));
  std::string out;
  for (const auto& row : cells) {
    std::string line;
    for (std::size_t i = 0; i < width.size(); ++i) {
      const auto cell = i < row.size() ? row[i] : std::string{};
      line += cell;
      if (i + 1 < width.size()) line += std::string(width[i] - display_width(cell) + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string progress_bar(std::size_t done, std::size_t total, std::size_t width) {
  auto filled = total == 0 ? width : std::min(width, done * width / total);
  return "[" + std::string(filled, '#') + std::string(width - filled, '.') + "]";
}

std::string json_text(const nlohmann::json& j) {
  return j.dump(2, ' ', true, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace ab::abctl
