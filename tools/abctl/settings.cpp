#include "tools/abctl/options.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.hpp"
#include "core/private_file.hpp"

// The settings half of the options: router URLs, the token, the configuration file.

namespace ab::abctl {

namespace {

using json = nlohmann::json;

caf::error bad(const std::string& what) {
  return make_error(errc::invalid_argument, what + " (see abctl --help)");
}

std::chrono::milliseconds to_ms(double s) {
  return std::chrono::milliseconds{static_cast<std::int64_t>(std::llround(s * 1000))};
}

}  // namespace

std::string sentence(const caf::error& err) {
  if (err && err.category() == caf::atom("ab") && err.context().match_elements<std::string>())
    return err.context().get_as<std::string>(0);
  return message_of(err);
}

std::string default_config_file(const environment& env) {
  if (auto x = env("XDG_CONFIG_HOME"); x && !x->empty()) return *x + "/autobuild/abctl.json";
  if (auto h = env("HOME"); h && !h->empty()) return *h + "/.config/autobuild/abctl.json";
  return "";
}

caf::expected<std::string> normalise_url(const std::string& url) {
  auto refuse = [&](const std::string& why) { return bad("router URL '" + url + "' " + why); };
  if (url.size() > 2048) return refuse("is too long");
  for (unsigned char ch : url)
    if (ch <= 0x20 || ch >= 0x7f) return refuse("has a space, a control or a non-ASCII character");
  std::string rest;
  if (url.rfind("http://", 0) == 0)
    rest = url.substr(7);
  else if (url.rfind("https://", 0) == 0)
    rest = url.substr(8);
  else
    return refuse("must start with http:// or https://");
  if (rest.empty() || rest[0] == '/' || rest[0] == ':') return refuse("names no host");
  if (rest.find_first_of("?#@") != std::string::npos)
    return refuse("may hold no query, fragment or user name");
  auto out = url;
  while (out.back() == '/') out.pop_back();
  return out;
}

namespace {

/// The routers of a comma-separated list, in order.
std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in{s};
  while (std::getline(in, item, ',')) {
    auto b = item.find_first_not_of(" \t");
    auto e = item.find_last_not_of(" \t");
    if (b != std::string::npos) out.push_back(item.substr(b, e - b + 1));
  }
  return out;
}

/// The configuration file's settings.
struct file_settings {
  std::vector<std::string> routers;
  std::string token_file, ca_file;
  std::optional<output_format> output;
  std::optional<std::chrono::milliseconds> timeout;
};

caf::expected<file_settings> read_config(const std::string& path) {
  auto refuse = [&](const std::string& why) {
    return make_error(errc::invalid_argument, "configuration file " + path + ": " + why);
  };
  std::ifstream in{path};
  if (!in) return refuse("cannot be read");
  std::stringstream text;
  text << in.rdbuf();
  if (text.str().size() > 1 << 20) return refuse("is larger than 1 MiB");
  auto j = json::parse(text.str(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return refuse("expected a JSON object");
  file_settings f;
  for (const auto& [key, v] : j.items()) {
    auto text_field = [&](std::string& out) -> caf::error {
      if (!v.is_string()) return refuse("\"" + key + "\": expected a string");
      out = v.get<std::string>();
      return caf::error{};
    };
    caf::error err;
    if (key == "routers") {
      if (!v.is_array()) return refuse("\"routers\": expected an array of URLs");
      for (const auto& r : v) {
        if (!r.is_string()) return refuse("\"routers\": expected an array of URLs");
        f.routers.push_back(r.get<std::string>());
      }
    } else if (key == "token_file") {
      err = text_field(f.token_file);
    } else if (key == "ca_file") {
      err = text_field(f.ca_file);
    } else if (key == "output") {
      std::string o;
      err = text_field(o);
      if (!err && o != "table" && o != "json")
        return refuse("\"output\": expected \"table\" or \"json\"");
      f.output = o == "json" ? output_format::json : output_format::table;
    } else if (key == "timeout_s") {
      if (!v.is_number() || v.get<double>() < 0.01 || v.get<double>() > 86400)
        return refuse("\"timeout_s\": expected seconds from 0.01 to 86400");
      f.timeout = to_ms(v.get<double>());
    } else if (key == "token") {
      return refuse("\"token\" is refused: name a private file with \"token_file\"");
    } else {
      return refuse("unknown key \"" + key +
                    "\" (expected routers, token_file, ca_file, output, timeout_s)");
    }
    if (err) return err;
  }
  // Relative paths are taken from the file's folder, not from wherever abctl runs.
  auto base = std::filesystem::path{path}.parent_path();
  for (auto* p : {&f.token_file, &f.ca_file})
    if (!p->empty() && std::filesystem::path{*p}.is_relative()) *p = (base / *p).string();
  return f;
}

caf::expected<std::string> read_token(const std::string& path) {
  auto refuse = [&](const std::string& why) {
    return make_error(errc::invalid_argument, "token file " + path + ": " + why);
  };
  if (auto err = check_private_file(path, "token file"))
    return make_error(errc::invalid_argument, sentence(err));
  std::ifstream in{path};
  if (!in) return refuse("cannot be read");
  std::string line;
  std::getline(in, line);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
    line.pop_back();
  if (line.empty()) return refuse("the first line is empty");
  if (line.size() > 4096) return refuse("the token is longer than 4096 characters");
  for (unsigned char ch : line)
    if (ch < 0x21 || ch > 0x7e) return refuse("the token has a character outside printable ASCII");
  return line;
}

caf::error check_token(const std::string& token) {
  if (token.size() > 4096) return bad("AB_TOKEN is longer than 4096 characters");
  for (unsigned char ch : token)
    if (ch < 0x21 || ch > 0x7e) return bad("AB_TOKEN has a character outside printable ASCII");
  return caf::error{};
}

}  // namespace

caf::expected<settings> resolve_settings(const command_line& cl, const environment& env) {
  settings s;
  file_settings file;
  auto config = cl.config_file.empty() ? default_config_file(env) : cl.config_file;
  if (!config.empty() && (!cl.config_file.empty() || std::filesystem::exists(config))) {
    auto f = read_config(config);
    if (!f) return f.error();
    file = std::move(*f);
  }
  std::vector<std::string> routers = cl.routers;
  if (routers.empty())
    if (auto r = env("AB_ROUTERS"); r && !r->empty()) routers = split_list(*r);
  if (routers.empty()) routers = file.routers;
  if (routers.empty())
    return bad("no router: give --router URL, set AB_ROUTERS, or list \"routers\" in " +
               (config.empty() ? std::string{"~/.config/autobuild/abctl.json"} : config));
  for (const auto& r : routers) {
    auto u = normalise_url(r);
    if (!u) return u.error();
    if (std::find(s.routers.begin(), s.routers.end(), *u) == s.routers.end())
      s.routers.push_back(*u);
  }
  auto token_file = !cl.token_file.empty() ? cl.token_file : std::string{};
  if (token_file.empty()) {
    if (auto t = env("AB_TOKEN"); t && !t->empty()) {
      if (auto err = check_token(*t)) return err;
      s.token = *t;
    } else {
      token_file = file.token_file;
    }
  }
  if (!token_file.empty()) {
    auto t = read_token(token_file);
    if (!t) return t.error();
    s.token = *t;
  }
  s.ca_file = !cl.ca_file.empty() ? cl.ca_file : file.ca_file;
  if (!s.ca_file.empty() && !std::filesystem::is_regular_file(s.ca_file))
    return bad("CA file " + s.ca_file + " is not a readable file");
  s.output = cl.output.value_or(file.output.value_or(output_format::table));
  s.timeout = cl.timeout.value_or(file.timeout.value_or(std::chrono::milliseconds{30000}));
  s.retries = cl.retries.value_or(2);
  return s;
}

}  // namespace ab::abctl
