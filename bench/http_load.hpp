#pragma once

// HTTP load generators for the benchmarks. Open loop: requests leave on a fixed schedule
// whether or not earlier ones were answered, and each latency counts from the scheduled send
// time, so queueing (in the server or for a free connection) shows in the figures. Closed
// loop: each connection sends as fast as it is answered.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace ab::bench {

/// One request for the generator to send.
struct load_request {
  /// The method, e.g. `GET` or `POST`.
  std::string method = "GET";
  /// Path and query.
  std::string target;
  /// The body; sent with its `Content-Length`.
  std::string body;
};

/// How one request fared.
struct load_reply {
  /// Position of the request in the schedule, from 0.
  std::size_t index = 0;
  /// HTTP status; 0 when the connection failed before a complete answer.
  int status = 0;
  /// From the scheduled send time to the end of the answer.
  double latency_ms = 0;
  /// The answer's body.
  std::string body;
};

/// A fixed-rate load on a server at 127.0.0.1.
struct open_loop_options {
  std::uint16_t port = 0;
  /// Requests per second.
  double rate = 1000;
  /// How long requests are sent; `rate × seconds` requests in all.
  double seconds = 1;
  /// Keep-alive connections, each carrying one request at a time.
  std::size_t connections = 64;
  /// Answers still missing this long after the last send count as failed (status 0).
  double grace_seconds = 30;
};

/// What the generator saw besides the answers.
struct open_loop_summary {
  /// Requests scheduled (and sent or failed).
  std::size_t requests = 0;
  /// From the first scheduled send to the last answer.
  double elapsed_seconds = 0;
  /// Most requests waiting at once for a free connection.
  std::size_t max_backlog = 0;
};

/// Sends `make(i)` for i = 0, 1, … at `options.rate` per second and calls `on_reply` for each
/// answer; returns when every request was answered or failed.
///
/// Runs on the calling thread, which also runs `make` and `on_reply`. A request that finds every
/// connection busy waits for one, and that wait counts in its latency.
open_loop_summary run_open_loop(const open_loop_options& options,
                                const std::function<load_request(std::size_t)>& make,
                                const std::function<void(const load_reply&)>& on_reply);

/// A closed-loop load on a server at 127.0.0.1: every connection sends its next request as
/// soon as it has the answer to the last, so the offered rate is what the server answers.
struct closed_loop_options {
  std::uint16_t port = 0;
  /// Keep-alive connections, each carrying one request at a time.
  std::size_t connections = 64;
  /// How long new requests are sent.
  double seconds = 1;
  /// Answers still missing this long after the end count as failed (status 0).
  double grace_seconds = 30;
};

/// What a closed-loop run did.
struct closed_loop_summary {
  /// Requests sent (each answered or failed).
  std::size_t requests = 0;
  /// From the start to the last answer.
  double elapsed_seconds = 0;
};

/// Sends `make(0)`, `make(1)`, … over `options.connections` connections, each as fast as it is
/// answered, for `options.seconds`, and calls `on_reply` for each answer, whose latency counts
/// from its send; returns when every request sent was answered or failed.
///
/// Runs on the calling thread, which also runs `make` and `on_reply`: one thread for all the
/// connections, so that the generator itself takes little of a small machine.
closed_loop_summary run_closed_loop(const closed_loop_options& options,
                                    const std::function<load_request(std::size_t)>& make,
                                    const std::function<void(const load_reply&)>& on_reply);

}  // namespace ab::bench
