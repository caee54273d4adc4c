#include "tests/storage/conformance_test.hpp"

namespace ab::testing {
INSTANTIATE_TEST_SUITE_P(Sqlite, StoreConformance, ::testing::Values("sqlite"));
}  // namespace ab::testing
