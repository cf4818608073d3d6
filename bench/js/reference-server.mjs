// Starts the unmodified @automerge/automerge-repo-sync-server entry point, but bound to
// 127.0.0.1 only. The package calls `app.listen(PORT)` (all interfaces); this wrapper pins
// any port-only listen() to the loopback address before importing it. Configuration is the
// package's own: PORT and DATA_DIR environment variables.
import net from "node:net"

const origListen = net.Server.prototype.listen
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === "number" && (args.length === 1 || typeof args[1] === "function")) {
    args.splice(1, 0, "127.0.0.1")
  }
  return origListen.apply(this, args)
}

await import("@automerge/automerge-repo-sync-server/src/index.js")
