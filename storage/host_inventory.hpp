#pragma once

// The inventory's role of the store: the hosts of the site and what is known of them.

#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "storage/types.hpp"

namespace ab::storage {

/// The hosts of the site: where each one is, how to reach its BMC, its lifecycle state and
/// discovered facts. Every call is one transaction; none throws. A host's lifecycle state
/// moves with the requests of the queue; here hosts are registered, described and removed.
class host_inventory {
 public:
  virtual ~host_inventory() = default;

  /// Registers hosts by name, in one transaction, all or nothing. A new host is stored whole; a
  /// known one takes the new site, BMC endpoint and credential reference and keeps its
  /// lifecycle state, facts and creation time. Changing the site, endpoint or credential of a
  /// host with an active request is refused (`host_busy`), atomically with `submit`.
  virtual caf::error put_hosts(const std::vector<host_record>& hosts) = 0;

  /// One host by name.
  virtual caf::expected<host_record> host(const std::string& name) = 0;

  /// Hosts matching `filter`, by name.
  virtual caf::expected<std::vector<host_record>> hosts(const host_filter& filter) = 0;

  /// The hosts of `names` that are in the inventory, in one read (names not found are left
  /// out; order is unspecified).
  virtual caf::expected<std::vector<host_record>> find_hosts(
      const std::vector<std::string>& names) = 0;

  /// Replaces a host's discovered facts (JSON text).
  virtual caf::error set_host_facts(const std::string& name, const std::string& facts) = 0;

  /// Removes a host; refused while it has an active request.
  virtual caf::error delete_host(const std::string& name) = 0;
};

}  // namespace ab::storage
