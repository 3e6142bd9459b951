// Raw bytes to an HTTP server on loopback and the answer, for requests no HTTP client would send: the
// HTTP fuzz target's inputs and the server test's malformed requests.
#pragma once
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

namespace sct::test {

// Sends `request` to 127.0.0.1:`port` and reads until one whole response (headers and Content-Length
// body) has arrived, the server closes, or nothing arrives for `wait_ms` (1 s between pieces of an
// answer once it started). Returns what arrived; "" when nothing did or no connection was made.
inline std::string raw_round_trip(int port, const std::string& request, int wait_ms) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  std::string response;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    [[maybe_unused]] const ssize_t sent = send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    pollfd p{fd, POLLIN, 0};
    char buf[4096];
    while (poll(&p, 1, response.empty() ? wait_ms : 1000) > 0) {
      const ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      response.append(buf, static_cast<size_t>(n));
      const size_t end = response.find("\r\n\r\n");
      if (end == std::string::npos) continue;
      size_t length = 0;
      const size_t at = response.find("Content-Length: ");
      if (at != std::string::npos && at < end) length = std::stoul(response.substr(at + 16, 12));
      if (response.size() >= end + 4 + length) break;
    }
  }
  close(fd);
  return response;
}

}  // namespace sct::test
