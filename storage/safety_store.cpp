#include "storage/safety_store.hpp"

#include <algorithm>
#include <iterator>

namespace ab::storage {

bool is_pause_scope(const std::string& scope) {
  return std::find(std::begin(pause_scopes), std::end(pause_scopes), scope) !=
         std::end(pause_scopes);
}

}  // namespace ab::storage
