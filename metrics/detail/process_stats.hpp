#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include <prometheus/metric_family.h>

namespace ab::metrics::detail {

/// What the process collectors report, in base units.
struct process_stats {
  /// User plus system CPU time.
  double cpu_seconds = 0;
  /// Resident set size.
  double resident_bytes = 0;
  /// Virtual memory size.
  double virtual_bytes = 0;
  /// Start time since the Unix epoch.
  double start_time_seconds = 0;
};

/// Parses `/proc/<pid>/stat` text given the clock ticks per second, the page size and the boot
/// time (seconds since the epoch, `btime` of `/proc/stat`); nothing when it is malformed.
std::optional<process_stats> parse_stat(std::string_view stat, long ticks_per_second,
                                        long page_size, double boot_time);

/// The `btime` line's value of `/proc/stat` text; nothing when absent or malformed.
std::optional<double> parse_boot_time(std::string_view proc_stat);

/// The process collectors' families for this process, read from `/proc/self`.
std::vector<prometheus::MetricFamily> process_families();

}  // namespace ab::metrics::detail
