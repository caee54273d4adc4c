#pragma once

// The settings machinery that `ab-node` and `ab-router` share: a table of options (key, help,
// setter), the setters of the common kinds, the command line, the JSON file, and the help
// text. A program's own options are one table of `setting<Config>` rows.

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/ip_networks.hpp"

namespace ab::config::options {

using json = nlohmann::json;

/// A configuration error naming where it came from (file or "command line"), the key, and why.
inline caf::error bad(const std::string& origin, const std::string& key, const std::string& why) {
  return make_error(errc::bad_config, origin + ": " + key + ": " + why);
}

/// One configurable setting of `Config`: how to read it from JSON (file) or text (command line).
template <class Config>
struct setting {
  const char* key;
  const char* help;
  /// Sets the value; errors name `origin` and `key` (as the file or command line spelt it).
  std::function<caf::error(Config&, const json&, const std::string& origin, const std::string& key)>
      set;
};

/// A non-empty string.
template <class Config, class T>
setting<Config> text(const char* key, const char* help, T Config::*field) {
  return {key, help,
          [=](Config& c, const json& v, const std::string& origin,
              const std::string& key) -> caf::error {
            if (!v.is_string() || v.get<std::string>().empty())
              return bad(origin, key, "expected a non-empty string");
            c.*field = v.get<std::string>();
            return caf::none;
          }};
}

/// A whole number from `lo` to `hi`.
template <class Config, class T>
setting<Config> number(const char* key, const char* help, T Config::*field, std::int64_t lo,
                       std::int64_t hi) {
  return {key, help,
          [=](Config& c, const json& v, const std::string& origin,
              const std::string& key) -> caf::error {
            if (!v.is_number_integer() || v.get<std::int64_t>() < lo || v.get<std::int64_t>() > hi)
              return bad(origin, key,
                         "expected a whole number from " + std::to_string(lo) + " to " +
                             std::to_string(hi));
            c.*field = static_cast<T>(v.get<std::int64_t>());
            return caf::none;
          }};
}

/// An IP address or CIDR, for `list`.
inline std::optional<std::string> check_network(const std::string& v) {
  if (auto n = ip_networks::parse({v}); !n) return ab::message_of(n.error());
  return std::nullopt;
}

/// The entries of a list value: a JSON array of strings (file) or comma-separated text
/// (command line); empty entries of the text are dropped.
inline caf::expected<std::vector<std::string>> read_list(const json& v, const std::string& origin,
                                                         const std::string& key) {
  std::vector<std::string> out;
  if (v.is_string()) {
    std::stringstream in(v.get<std::string>());
    for (std::string one; std::getline(in, one, ',');)
      if (!one.empty()) out.push_back(one);
  } else if (v.is_array()) {
    for (const auto& one : v) {
      if (!one.is_string()) return bad(origin, key, "expected an array of strings");
      out.push_back(one.get<std::string>());
    }
  } else {
    return bad(origin, key, "expected an array of strings, or comma-separated text");
  }
  return out;
}

/// A list (`read_list`) whose every entry passes `check`.
template <class Config>
setting<Config> list(const char* key, const char* help, std::vector<std::string> Config::*field,
                     std::optional<std::string> (*check)(const std::string&)) {
  return {key, help,
          [=](Config& c, const json& v, const std::string& origin,
              const std::string& key) -> caf::error {
            auto out = read_list(v, origin, key);
            if (!out) return std::move(out.error());
            for (const auto& one : *out)
              if (auto why = check(one)) return bad(origin, key, "'" + one + "': " + *why);
            c.*field = std::move(*out);
            return caf::none;
          }};
}

/// JSON file keys use underscores; options use dashes.
inline std::string option_name(std::string key) {
  for (auto& ch : key)
    if (ch == '_') ch = '-';
  return key;
}

/// The setting named `name` (dashes), or null.
template <class Config>
const setting<Config>* find(const std::vector<setting<Config>>& all, const std::string& name) {
  for (const auto& s : all)
    if (name == s.key) return &s;
  return nullptr;
}

/// A command-line value as JSON: numbers and values starting with one of `json_starts` are
/// parsed, everything else is text.
inline json value_of(const std::string& text, const std::string& json_starts) {
  if (!text.empty() && (json_starts.find(text.front()) != std::string::npos ||
                        std::isdigit(static_cast<unsigned char>(text[0]))))
    try {
      return json::parse(text);
    } catch (const json::exception&) {
      // Not JSON after all: keep it as text and let the setting say what it expected.
    }
  return text;
}

/// One help line per setting, after the program's own header.
template <class Config>
std::string usage_lines(const std::vector<setting<Config>>& all) {
  std::string out;
  for (const auto& s : all) {
    std::string name = std::string{"  --"} + s.key + " V";
    // A name too long for the column keeps its V, and one space before the help.
    name.resize(std::max<std::size_t>(28, name.size() + 1), ' ');
    out += name + s.help + "\n";
  }
  return out;
}

/// What a command line said: a config file, overrides, or a request for help.
struct arguments {
  bool help = false;
  std::string config_file;
  std::map<std::string, std::string> overrides;
};

/// Parses `--config FILE`, `--OPTION VALUE`, `--OPTION=VALUE` and `-h`/`--help`; an option
/// not in `all` or a missing value is an error.
template <class Config>
caf::expected<arguments> parse_arguments(const std::vector<setting<Config>>& all,
                                         const std::vector<std::string>& args) {
  arguments out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto& a = args[i];
    if (a == "-h" || a == "--help") {
      out.help = true;
      continue;
    }
    if (a.rfind("--", 0) != 0)
      return make_error(errc::bad_config, "unexpected argument '" + a + "' (see --help)");
    auto name = a.substr(2);
    std::string val;
    if (auto eq = name.find('='); eq != std::string::npos) {
      val = name.substr(eq + 1);
      name = name.substr(0, eq);
    } else if (i + 1 < args.size()) {
      val = args[++i];
    } else {
      return make_error(errc::bad_config, "option --" + name + " needs a value");
    }
    if (name == "config")
      out.config_file = val;
    else if (find(all, name))
      out.overrides[name] = val;
    else
      return make_error(errc::bad_config, "unknown option --" + name + " (see --help)");
  }
  return out;
}

/// Sets `c` from the JSON object in `file` (keys with `_` or `-`); an unknown key names
/// `program`'s `--help`.
template <class Config>
caf::error apply_file(Config& c, const std::vector<setting<Config>>& all, const std::string& file,
                      const std::string& program) {
  std::ifstream in{file};
  if (!in) return make_error(errc::bad_config, file + ": cannot be read");
  std::stringstream buf;
  buf << in.rdbuf();
  json doc;
  try {
    doc = json::parse(buf.str());
  } catch (const json::exception& e) {
    return make_error(errc::bad_config, file + ": not valid JSON: " + e.what());
  }
  if (!doc.is_object()) return bad(file, "(top level)", "expected an object");
  for (const auto& [key, v] : doc.items()) {
    const auto* s = find(all, option_name(key));
    if (!s) return bad(file, key, "unknown key (see " + program + " --help)");
    if (auto err = s->set(c, v, file, key)) return err;
  }
  return caf::none;
}

/// Sets `c` from the command line's overrides (parsed by `parse_arguments`).
template <class Config>
caf::error apply_overrides(Config& c, const std::vector<setting<Config>>& all,
                           const std::map<std::string, std::string>& overrides,
                           const std::string& json_starts) {
  for (const auto& [name, text] : overrides) {
    const auto* s = find(all, name);
    if (!s) return make_error(errc::bad_config, "unknown option --" + name + " (see --help)");
    if (auto err = s->set(c, value_of(text, json_starts), "command line", "--" + name)) return err;
  }
  return caf::none;
}

}  // namespace ab::config::options
