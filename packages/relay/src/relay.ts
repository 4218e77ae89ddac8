/**
 * createRelay(): the libp2p node a Parley operator runs, put together in order and taken apart in reverse. State
 * lives under one data directory: the key file (a stable PeerId), the mailbox LevelDB (synced writes) and the DHT's
 * record LevelDB (bounded; kept across restarts) — stores.ts. The parts: options and their checks (options.ts), the
 * node with its circuit relay, DHT server and connection limits (node.ts), the per-range caps and record bounds with
 * their metrics (limits.ts), the mailbox service (mailbox-server.ts), and the HTTP side for /metrics, /healthz,
 * /parley.json and the web app's static files (endpoints.ts over http.ts). Every resource opened is released again
 * if a later step fails, and by stop().
 */
import { mkdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import type { PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Libp2p } from 'libp2p'
import { Registry } from 'prom-client'
import {
  DEFAULT_MAX_RESERVATIONS,
  DEFAULT_PROTOCOL_PREFIX,
  DHT_DIR,
  ECHO_PROTOCOL,
  MAILBOX_DIR,
  PRIVATE_KEY_FILE
} from './constants.ts'
import { serveEcho } from './echo.ts'
import { relayMetrics, startEndpoints } from './endpoints.ts'
import { loadOrCreatePrivateKey } from './identity.ts'
import { boundedRecords, registerPolicyMetrics, relayPolicy } from './limits.ts'
import { createJsonLogger, type RelayLogger } from './log.ts'
import { type MailboxServer, openMailboxServer } from './mailbox-server.ts'
import { createRelayNode, type RelayServices } from './node.ts'
import { type RelayOptions, validate } from './options.ts'
import { openDhtRecordStore, openMailboxStore } from './stores.ts'

export type { RelayServices } from './node.ts'
export type { RelayOptions } from './options.ts'

/** A running relay. */
export interface Relay {
  readonly peerId: PeerId
  /** The addresses others dial, each ending in /p2p/<peerId>. */
  readonly multiaddrs: Multiaddr[]
  /** Base URL of the HTTP server (undefined with `http: false`). */
  readonly httpUrl: string | undefined
  readonly node: Libp2p<RelayServices>
  readonly mailbox: MailboxServer
  readonly log: RelayLogger
  /** Everything GET /metrics serves: libp2p's registry and the parley_* metrics. */
  metrics(): Promise<string>
  /** Drains and stops: healthz 503, HTTP closed, mailbox drained, libp2p stopped, stores flushed and closed. */
  stop(): Promise<void>
}

/** Creates and starts a relay; every opened resource is released again if any step fails. */
export async function createRelay(options: RelayOptions): Promise<Relay> {
  validate(options)
  const log = createJsonLogger({
    ...(options.logLevel !== undefined && { level: options.logLevel }),
    ...(options.logSink !== undefined && { sink: options.logSink })
  })
  const dataDir = resolve(options.dataDir)
  const protocolPrefix = options.protocolPrefix ?? DEFAULT_PROTOCOL_PREFIX
  const maxReservations = options.maxReservations ?? DEFAULT_MAX_RESERVATIONS
  const cleanup: Array<() => unknown> = []
  const unwind = async () => {
    for (const step of cleanup.splice(0).reverse()) {
      await Promise.resolve()
        .then(step)
        .catch((err: unknown) => log.error('relay.release.failed', { error: (err as Error)?.name ?? 'unknown' }))
    }
  }

  try {
    await mkdir(dataDir, { recursive: true, mode: 0o700 })
    const identity = await loadOrCreatePrivateKey(join(dataDir, PRIVATE_KEY_FILE))
    if (identity.exposed)
      log.warn('relay.key.exposed', { file: join(dataDir, PRIVATE_KEY_FILE), fix: 'chmod 600 (or 400) the key file' })
    let datastore = options.datastore
    if (datastore === undefined) {
      const opened = await openMailboxStore(join(dataDir, MAILBOX_DIR))
      cleanup.push(() => opened.close())
      datastore = opened
    }

    // kad-dht's records go to their own LevelDB, bounded: a restart must not forget every record this relay served
    // (lookups through it would fail until each owner's next republish, up to 10 minutes later). Records are public
    // (signed, served to anyone who asks); the peer store (every client's peer id and IP address) stays in memory.
    const dhtRecords = await openDhtRecordStore(join(dataDir, DHT_DIR))
    cleanup.push(() => dhtRecords.close())
    const records = await boundedRecords(dhtRecords, options)
    const policy = relayPolicy(options)

    // One registry per relay: prometheus-metrics would otherwise share prom-client's global one.
    const registry = new Registry()
    registerPolicyMetrics(registry, records, policy)
    const node = await createRelayNode(options, {
      privateKey: identity.key,
      datastore: records,
      policy,
      registry,
      dataDir,
      protocolPrefix,
      maxReservations
    })
    policy.attach(node, node.services.circuitRelay)
    await node.start()
    cleanup.push(() => node.stop())
    node.services.circuitRelay.addEventListener('relay:reservation', () => {
      log.debug('relay.reservation', { reservations: node.services.circuitRelay.reservations.size })
    })

    const mailbox = await openMailboxServer({
      datastore,
      protocolPrefix,
      log: log.mailbox,
      ...(options.mailboxLimits !== undefined && { limits: options.mailboxLimits }),
      ...(options.backend !== undefined && { backend: options.backend })
    })
    await mailbox.attach(node)
    cleanup.push(() => mailbox.close())

    const shutdown = new AbortController()
    if (options.echo === true) {
      await node.handle(ECHO_PROTOCOL, (stream) => serveEcho(stream, shutdown.signal))
      cleanup.push(() => shutdown.abort())
    }

    const metrics = relayMetrics(node, registry, mailbox, maxReservations)
    const http = await startEndpoints(options, node, registry, metrics, log)

    const peerId = node.peerId
    log.info('relay.started', {
      peerId: peerId.toString(),
      newIdentity: identity.created,
      addresses: node.getMultiaddrs().join(' '),
      ...(http && { http: http.url }),
      maxReservations
    })

    let stopping: Promise<void> | undefined
    const stop = async (): Promise<void> => {
      log.info('relay.stopping', { connections: node.getConnections().length })
      http?.setShuttingDown()
      if (options.shutdownDrainMs) await new Promise((r) => setTimeout(r, options.shutdownDrainMs))
      await http?.close()
      // mailbox.close() drains in-flight requests (their synced writes) before libp2p and the stores go away.
      await unwind()
      log.info('relay.stopped')
    }

    return {
      peerId,
      get multiaddrs() {
        return node.getMultiaddrs()
      },
      httpUrl: http?.url,
      node,
      mailbox,
      log,
      metrics,
      stop: () => {
        stopping ??= stop()
        return stopping
      }
    }
  } catch (err) {
    await unwind()
    throw err
  }
}
