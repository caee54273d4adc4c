#pragma once

// The simulated OS installer: what a host booted from the installer CD does, and how it reports
// back to AutoBuild. See docs/bmcsim.md, "Installer".

#include <atomic>
#include <chrono>
#include <optional>
#include <string>

namespace ab::bmc::sim {

/// What an installer image URL asks for: where to report and with which token.
struct install_order {
  /// The image URL without its query.
  std::string image;
  /// The `callback` query parameter, URL-decoded.
  std::string callback;
  /// The `token` query parameter, URL-decoded; sent as `X-Callback-Token`.
  std::string token;
};

/// `text` with `%XX` escapes and `+` decoded; a malformed escape is kept as it is.
std::string percent_decode(const std::string& text);

/// The order carried by `image_url`; nullopt unless it has both `callback=` and `token=`.
std::optional<install_order> install_order_of(const std::string& image_url);

/// The JSON body of the callback: `succeeded`, or `failed` when `failed`, naming the image.
std::string callback_body(const install_order& order, bool failed);

/// What one callback POST got.
struct callback_result {
  /// The HTTP status; 0 when no answer came.
  long status = 0;
  /// Why no answer came (libcurl's reason).
  std::string failure;

  /// True for a 2xx answer.
  bool delivered() const { return status >= 200 && status < 300; }
};

/// POSTs `body` to `order.callback` with the token header, within `timeout`; blocks, so it runs
/// on one of the fleet's callback threads. Gives up early once `stop` is set.
callback_result post_callback(const install_order& order, const std::string& body,
                              std::chrono::milliseconds timeout, const std::atomic<bool>& stop);

}  // namespace ab::bmc::sim
