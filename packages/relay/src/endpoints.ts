/**
 * What the relay's HTTP endpoints answer (the server itself is http.ts): /healthz (peer id, connections),
 * /parley.json (this relay's WebSocket addresses and the operator's ICE servers with fresh TURN credentials) and
 * /metrics (libp2p's and the limits' registry, then the parley_* relay and mailbox figures).
 */
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Libp2p } from 'libp2p'
import type { Registry } from 'prom-client'
import { DEFAULT_HTTP_HOST, DEFAULT_HTTP_PORT } from './constants.ts'
import { type RelayHttp, startRelayHttp } from './http.ts'
import { advertisedIceServers } from './ice.ts'
import type { RelayLogger } from './log.ts'
import type { MailboxServer } from './mailbox-server.ts'
import { formatRelayMetrics } from './metrics.ts'
import type { RelayServices } from './node.ts'
import type { RelayOptions } from './options.ts'

/** Whether a browser can dial `a`: WebSockets (ws or wss, not through a circuit). */
function isWebSocketAddress(a: Multiaddr): boolean {
  const names = a.getComponents().map((c) => c.name)
  return (names.includes('ws') || names.includes('wss')) && !names.includes('p2p-circuit')
}

/** Everything GET /metrics serves: the registry's metrics, then the relay's own parley_* figures. */
export function relayMetrics(
  node: Libp2p<RelayServices>,
  registry: Registry,
  mailbox: MailboxServer,
  maxReservations: number
): () => Promise<string> {
  return async (): Promise<string> => {
    const own = formatRelayMetrics({
      reservations: node.services.circuitRelay.reservations.size,
      maxReservations,
      connections: node.getConnections().length,
      mailbox: mailbox.stats()
    })
    return `${await registry.metrics()}\n${own}`
  }
}

/** Starts the HTTP server with the relay's endpoints, or nothing with `http: false`. */
export async function startEndpoints(
  options: RelayOptions,
  node: Libp2p<RelayServices>,
  registry: Registry,
  metrics: () => Promise<string>,
  log: RelayLogger
): Promise<RelayHttp | undefined> {
  if (options.http === false) return undefined
  return await startRelayHttp(
    {
      host: options.http?.host ?? DEFAULT_HTTP_HOST,
      port: options.http?.port ?? DEFAULT_HTTP_PORT,
      webDir: options.webDir,
      log
    },
    {
      health: () => ({ peerId: node.peerId.toString(), connections: node.getConnections().length }),
      parleyJson: () => ({
        relays: node
          .getMultiaddrs()
          .filter((a) => isWebSocketAddress(a))
          .map((a) => a.toString()),
        iceServers: advertisedIceServers(options.iceServers ?? [], options.turnSecret, Date.now())
      }),
      metrics: async () => ({ contentType: registry.contentType, body: await metrics() })
    }
  )
}
