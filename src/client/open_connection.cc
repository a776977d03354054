// OpenConnection: maps a URI to a Connection implementation.
#include "client/embedded_connection.h"
#include "client/uri.h"
#include "vsecret/connection.h"

namespace vsecret {

Result<std::unique_ptr<Connection>> OpenConnection(std::string_view uri_text, bool read_only) {
  std::string text = uri_text.empty() ? DefaultConnectionUri() : std::string(uri_text);
  auto uri = ParseConnectionUri(text);
  if (!uri) return std::unexpected(uri.error());
  auto no_driver = [&] {
    return Fail(ErrorCode::kNoConnect, ErrorDomain::kNone, "no connection driver available for " + text);
  };
  if (uri->scheme != "secret") return no_driver();

  if (uri->IsLocal() && uri->transport.empty() && uri->path == "/embed") {
    auto root = uri->Param("root");
    if (!root) return InvalidArg(ErrorDomain::kNone, "invalid argument: Missing URI parameter 'root'");
    auto conn = EmbeddedConnection::Open(text, *root, read_only);
    if (!conn) return std::unexpected(conn.error());
    return std::unique_ptr<Connection>(std::move(*conn));
  }
  // secret:///system, secret:///session and the remote forms parse here; their transports
  // (the vsecretd RPC client) are registered by the remote layer. Without it, the URI has no
  // driver in this process, exactly as libvirt reports for an unknown scheme.
  return no_driver();
}

}  // namespace vsecret
