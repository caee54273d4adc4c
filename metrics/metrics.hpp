#pragma once

#include <string>

#include <prometheus/registry.h>

namespace ab::metrics {

/// The process's one registry, shared by all components.
///
/// Components register their families once (prometheus-cpp's builders) and keep references to
/// the metrics they bump; the registry lives until the process exits.
prometheus::Registry& registry();

/// The registry's families and the process collectors in the Prometheus text format.
///
/// The process collectors (`process_cpu_seconds_total`, `process_resident_memory_bytes`,
/// `process_virtual_memory_bytes`, `process_open_fds`, `process_start_time_seconds`) are read
/// from `/proc/self` at the call; one that cannot be read is left out.
std::string text();

/// The `Content-Type` of `text()`'s output.
inline constexpr const char* content_type = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace ab::metrics
