// OpenConnection: maps a URI to a Connection implementation.
#include "base/uri.h"
#include "client/embedded_connection.h"
#include "client/remote_connection.h"
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
  // Everything else is a daemon (vsecretd, or a stock libvirtd) reached over the RPC protocol;
  // the daemon judges the path, as libvirt's remote driver leaves it to the server.
  auto conn = RemoteConnection::Open(text, *uri, read_only);
  if (!conn) return std::unexpected(conn.error());
  return std::unique_ptr<Connection>(std::move(*conn));
}

}  // namespace vsecret
