#include "storage/store.hpp"

#include <algorithm>

#include "core/error.hpp"
#include "storage/mysql_store.hpp"
#include "storage/sqlite_store.hpp"

namespace ab::storage {

caf::expected<std::vector<request_view>> job_queue::requests_by_id(
    const std::vector<request_id>& ids) {
  std::vector<request_view> out;
  std::vector<request_id> seen;
  for (auto id : ids) {
    if (std::find(seen.begin(), seen.end(), id) != seen.end()) continue;
    seen.push_back(id);
    auto r = request(id);
    if (r)
      out.push_back(std::move(*r));
    else if (!is(r.error(), errc::not_found))
      return r.error();
  }
  return out;
}

caf::error store::bind_site(std::int64_t site_id) {
  return make_error(errc::bad_config, "this store cannot hold a site id");
}

namespace {

caf::expected<std::unique_ptr<store>> open_backend(const store_options& options,
                                                   std::shared_ptr<const ab::clock> clk) {
  const std::string sqlite_prefix = "sqlite:";
  if (options.url.rfind(sqlite_prefix, 0) == 0) {
    auto path = options.url.substr(sqlite_prefix.size());
    if (path.empty()) return make_error(errc::bad_config, "store URL sqlite: needs a path");
    return open_sqlite_store(path, std::move(clk), options.policy, options.schema_max);
  }
  if (options.url.rfind("mysql://", 0) == 0) {
    auto target = parse_mysql_url(options.url);
    if (!target) return target.error();
    return open_mysql_store(*target, options.pool_size, std::move(clk), options.policy,
                            options.schema_max);
  }
  return make_error(errc::bad_config,
                    "store URL must be sqlite:PATH or mysql://USER:PASS@HOST:PORT/DB");
}

}  // namespace

caf::expected<std::unique_ptr<store>> open_store(const store_options& options,
                                                 std::shared_ptr<const ab::clock> clk) {
  auto s = open_backend(options, std::move(clk));
  if (!s || !options.site_id) return s;
  if (auto err = (*s)->bind_site(*options.site_id)) return err;
  return s;
}

}  // namespace ab::storage
