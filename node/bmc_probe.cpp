#include "node/bmc_probe.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/error.hpp"

namespace ab::node {

bool tcp_reachable(const std::string& host, const std::string& port,
                   std::chrono::milliseconds timeout, std::string& why) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    why = "the name does not resolve: " + std::string{::gai_strerror(rc)};
    return false;
  }
  why = "no address answered";
  bool ok = false;
  for (auto* a = found; a && !ok; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc == 0) {
      ok = true;
    } else if (errno == EINPROGRESS) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      deadline - std::chrono::steady_clock::now())
                      .count();
      pollfd p{fd, POLLOUT, 0};
      if (left > 0 && ::poll(&p, 1, static_cast<int>(left)) == 1) {
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err == 0)
          ok = true;
        else
          why = std::strerror(err);
      } else {
        why = "no answer within " + std::to_string(timeout.count()) + " ms";
      }
    } else {
      why = std::strerror(errno);
    }
    ::close(fd);
  }
  ::freeaddrinfo(found);
  return ok;
}

net::host_probe make_bmc_probe(bmc_access access, std::chrono::milliseconds timeout) {
  return [access = std::move(access), timeout](const storage::host_record& h) {
    std::vector<net::preflight_check> out;
    if (auto c = access.credentials->resolve(h.credential_ref))
      out.push_back({"credentials", true, "the credential reference resolves"});
    else
      out.push_back({"credentials", false, message_of(c.error())});
    if (auto err = access.endpoints->check(h.bmc_endpoint)) {
      out.push_back({"bmc_reachable", false, message_of(err)});
      return out;
    }
    auto parts = bmc::endpoint_policy::parse(h.bmc_endpoint);
    if (!parts) {
      out.push_back({"bmc_reachable", false, message_of(parts.error())});
    } else if (parts->scheme == "ipmi") {
      out.push_back({"bmc_reachable", true,
                     "not probed: IPMI runs over UDP; the job's first BMC call checks it"});
    } else {
      auto port = !parts->port.empty() ? parts->port : parts->scheme == "https" ? "443" : "80";
      std::string why;
      bool ok = tcp_reachable(parts->host, port, timeout, why);
      out.push_back({"bmc_reachable", ok,
                     ok ? "the BMC accepted a connection on port " + port
                        : "no connection to the BMC on port " + port + ": " + why});
    }
    return out;
  };
}

}  // namespace ab::node
