#include "harness/http_exchange.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdint>

namespace ab::harness {

http_reply http_exchange(int port, const std::string& method, const std::string& path,
                         const std::string& body, const std::string& extra_headers) {
  return http_exchange_from("", port, method, path, body, extra_headers);
}

http_reply http_exchange_from(const std::string& source, int port, const std::string& method,
                              const std::string& path, const std::string& body,
                              const std::string& extra_headers) {
  http_reply out;
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return out;
  if (!source.empty()) {
    sockaddr_in from{};
    from.sin_family = AF_INET;
    if (inet_pton(AF_INET, source.c_str(), &from.sin_addr) != 1 ||
        ::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0) {
      ::close(fd);
      return out;
    }
  }
  // A caller must see a failure, not hang, when a server never answers.
  timeval limit{30, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  std::string raw;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    auto req = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" +
               extra_headers + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    std::size_t sent = 0;
    while (sent < req.size()) {
      auto n = ::write(fd, req.data() + sent, req.size() - sent);
      if (n <= 0) break;
      sent += static_cast<std::size_t>(n);
    }
    if (sent == req.size()) {
      char buf[8192];
      for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;)
        raw.append(buf, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  // "HTTP/1.1 200 OK\r\nheaders\r\n\r\nBODY"
  auto sp = raw.find(' ');
  auto end = raw.find("\r\n\r\n");
  if (sp == std::string::npos || end == std::string::npos || raw.size() < sp + 4) return out;
  try {
    out.status = std::stoi(raw.substr(sp + 1, 3));
  } catch (...) {
    return out;
  }
  out.headers = raw.substr(0, end);
  out.body = raw.substr(end + 4);
  return out;
}

}  // namespace ab::harness
