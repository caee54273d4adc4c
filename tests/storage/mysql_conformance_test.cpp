#include "tests/storage/conformance_test.hpp"

namespace ab::testing {
INSTANTIATE_TEST_SUITE_P(Mysql, StoreConformance, ::testing::Values("mysql"));
}  // namespace ab::testing
