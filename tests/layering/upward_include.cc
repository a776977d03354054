// Compiled by tests/CMakeLists.txt in two places: as part of the client layer, where it is
// legal, and as part of the rpc layer, where the build must reject it because rpc sits below
// client (base <- conf <- store <- driver <- rpc <- client <- cli).
#include "client/remote_connection.h"

int vsecret_layering_probe() { return 0; }
