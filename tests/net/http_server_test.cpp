#include <gtest/gtest.h>
// (being written)
TEST(HttpServer, Placeholder) { SUCCEED(); }
