#include "storage/eta_store.hpp"

#include "core/error.hpp"

namespace ab::storage {

namespace {

caf::error unsupported(const char* what) {
  return make_error(errc::store_failure, std::string{what} + " is not supported by this store");
}

}  // namespace

caf::expected<std::vector<finished_sample>> eta_store::finished_requests(const std::string&,
                                                                         time_ms, std::size_t) {
  return unsupported("finished_requests");
}

caf::expected<queue_overview> eta_store::overview(const std::string&, time_ms,
                                                  const std::vector<std::string>&, time_ms) {
  return unsupported("overview");
}

caf::expected<std::int64_t> eta_store::queued_ahead(const std::string&, const std::string&, time_ms,
                                                    request_id) {
  return unsupported("queued_ahead");
}

}  // namespace ab::storage
