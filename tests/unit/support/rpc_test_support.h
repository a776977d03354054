// In-process vsecretd for the RPC tests: a SecretDriver on a temporary root, an RpcServer on
// UNIX sockets in that root, its loop on a thread; plus a raw frame client.
#pragma once

#include <poll.h>
#include <sys/socket.h>

#include <memory>
#include <string>
#include <thread>

#include "driver/secret_driver.h"
#include "rpc/frame.h"
#include "rpc/remote_messages.h"
#include "rpc/server.h"
#include "rpc/unix_socket.h"
#include "test_util.h"

namespace vsecret::rpc::test {

inline WireBuffer FromHex(std::string_view hex) {
  WireBuffer out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

class TestServer {
 public:
  explicit TestServer(ServerOptions options = {}) {
    auto driver = SecretDriver::Open(StorePaths::ForRoot(dir_.path()));
    if (!driver) std::abort();
    driver_ = std::move(*driver);
    auto server = RpcServer::Create(*driver_, std::move(options));
    if (!server) std::abort();
    server_ = std::move(*server);
    rw_path_ = dir_.path() + "/run/virtsecretd-sock";
    ro_path_ = dir_.path() + "/run/virtsecretd-sock-ro";
    auto rw = ListenUnix(rw_path_, ListenOptions{});
    auto ro = ListenUnix(ro_path_, ListenOptions{0777});
    if (!rw || !ro || !server_->AddListener(std::move(*rw), false) ||
        !server_->AddListener(std::move(*ro), true)) {
      std::abort();
    }
  }
  ~TestServer() { Stop(); }

  void Start() {
    thread_ = std::thread([this] { stop_reason_ = server_->Run(); });
  }
  void Stop() {
    if (!thread_.joinable()) return;
    server_->RequestStop();
    thread_.join();
  }

  SecretDriver& driver() { return *driver_; }
  RpcServer& server() { return *server_; }
  const std::string& rw_path() const { return rw_path_; }
  const std::string& ro_path() const { return ro_path_; }
  const std::string& root() const { return dir_.path(); }
  RpcServer::StopReason stop_reason() const { return stop_reason_; }
  std::thread& thread() { return thread_; }

 private:
  vsecret::test::TempDir dir_;
  std::unique_ptr<SecretDriver> driver_;
  std::unique_ptr<RpcServer> server_;
  std::string rw_path_, ro_path_;
  std::thread thread_;
  RpcServer::StopReason stop_reason_ = RpcServer::StopReason::kRequested;
};

// A blocking raw client: sends bytes, reads whole frames, with a timeout on every read.
class RawClient {
 public:
  explicit RawClient(const std::string& path) {
    auto fd = ConnectUnix(path);
    if (fd) fd_ = std::move(*fd);
  }
  bool connected() const { return static_cast<bool>(fd_); }

  void Send(const WireBuffer& bytes) {
    std::size_t off = 0;
    while (off < bytes.size()) {
      ssize_t n = ::send(fd_.get(), bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += static_cast<std::size_t>(n);
    }
  }
  void SendHex(std::string_view hex) { Send(FromHex(hex)); }

  // The next whole frame, or nullopt on EOF / timeout.
  std::optional<WireBuffer> ReadFrame(int timeout_ms = 5000) {
    WireBuffer frame;
    if (!ReadExact(4, &frame, timeout_ms)) return std::nullopt;
    std::size_t len = (std::size_t{frame[0]} << 24) | (frame[1] << 16) | (frame[2] << 8) | frame[3];
    if (len < 4 || !ReadExact(len - 4, &frame, timeout_ms)) return std::nullopt;
    return frame;
  }
  std::string ReadHex(int timeout_ms = 5000) {
    auto f = ReadFrame(timeout_ms);
    return f ? ToHex(*f) : "<none>";
  }
  // True when the server closed the connection (EOF) within the timeout.
  bool SeesEof(int timeout_ms = 5000) {
    pollfd pfd{fd_.get(), POLLIN, 0};
    if (::poll(&pfd, 1, timeout_ms) <= 0) return false;
    char c;
    return ::recv(fd_.get(), &c, 1, 0) <= 0;
  }
  int fd() const { return fd_.get(); }

 private:
  bool ReadExact(std::size_t n, WireBuffer* out, int timeout_ms) {
    std::size_t start = out->size();
    out->resize(start + n);
    std::size_t got = 0;
    while (got < n) {
      pollfd pfd{fd_.get(), POLLIN, 0};
      if (::poll(&pfd, 1, timeout_ms) <= 0) return false;
      ssize_t r = ::recv(fd_.get(), out->data() + start + got, n - got, 0);
      if (r <= 0) return false;
      got += static_cast<std::size_t>(r);
    }
    return true;
  }
  UniqueFd fd_;
};

// A CALL frame for the REMOTE program.
template <typename T>
WireBuffer CallFrame(Proc proc, std::uint32_t serial, const T& args) {
  Header h;
  h.proc = static_cast<std::int32_t>(proc);
  h.serial = serial;
  return *EncodeFrame(h, args);
}
inline WireBuffer VoidCall(Proc proc, std::uint32_t serial) {
  Header h;
  h.proc = static_cast<std::int32_t>(proc);
  h.serial = serial;
  return EmptyFrame(h);
}

// Decodes a reply frame: header, and the payload after it.
inline Header HeaderOf(const WireBuffer& frame) { return *DecodeHeader(std::span(frame).subspan(4)); }
inline std::span<const std::uint8_t> PayloadOf(const WireBuffer& frame) {
  return std::span(frame).subspan(28);
}
inline Error ErrorOf(const WireBuffer& frame) {
  return DecodePayload<RemoteError>(PayloadOf(frame))->ToError();
}

// AUTH_LIST + CONNECT_OPEN("secret:///system", flags) with serials 0 and 1; replies consumed.
inline void OpenRaw(RawClient& c, std::uint32_t flags = 0) {
  c.Send(VoidCall(Proc::kAuthList, 0));
  c.ReadFrame();
  c.Send(CallFrame(Proc::kConnectOpen, 1, OpenArgs{"secret:///system", flags}));
  c.ReadFrame();
}

}  // namespace vsecret::rpc::test
