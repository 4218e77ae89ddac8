/**
 * createRelay() over real sockets on 127.0.0.1: circuit reservations (counted in /metrics, capped by
 * maxReservations, carrying the configured limits), the identity kept across restarts, the data directory's lock,
 * /healthz during a drain, static files without traversal, the echo protocol, and kad-dht's monotonic records on disk.
 */

import { mkdir, mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { generateKeyPair, publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import { noise } from '@libp2p/noise'
import { Libp2pRecord } from '@libp2p/record'
import { tcp } from '@libp2p/tcp'
import { lpStream } from '@libp2p/utils'
import { yamux } from '@libp2p/yamux'
import { createAccount, defaultBackend, encodeBundle, generateIdentity, publishBundle } from '@parley/crypto'
import {
  ContactNotFoundError,
  createNodeLibp2p,
  lookupRecord,
  MonotonicRecordDatastore,
  RolledBackRecordError,
  sourceRange,
  tcpFrom
} from '@parley/network'
import { until } from '@parley/test-kit'
import { DHT_KEY_PREFIX, decodeDhtRecord, dhtKeyForIdentity, encodeDhtRecord, signDhtRecord } from '@parley/wire'
import { LevelDatastore } from 'datastore-level'
import { Key } from 'interface-datastore'
import { createLibp2p, type Libp2p } from 'libp2p'
import { afterEach, describe, expect, it } from 'vitest'
import {
  createRelay,
  DataDirLockedError,
  DEFAULT_MAX_RESERVATIONS_PER_RANGE,
  ECHO_PROTOCOL,
  type Relay,
  type RelayOptions
} from '../src/index.ts'

const HOP = '/libp2p/circuit/relay/0.2.0/hop'
const STATUS_OK = 100
const STATUS_RESERVATION_REFUSED = 200
const STATUS_PERMISSION_DENIED = 202

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {})
})

async function tempDir(name: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `parley-relay-${name}-`))
  cleanups.push(() => rm(dir, { recursive: true, force: true }))
  return dir
}

async function startRelay(options: Partial<RelayOptions> & { dataDir: string }): Promise<Relay> {
  const relay = await createRelay({
    listen: ['/ip4/127.0.0.1/tcp/0'],
    http: { host: '127.0.0.1', port: 0 },
    logSink: () => {},
    ...options
  })
  cleanups.push(() => relay.stop())
  return relay
}

/** A plain client; `from` binds its TCP connections to that loopback address (a host in that address's /24). */
async function client(options: { circuit?: boolean; dialCircuits?: boolean; from?: string } = {}): Promise<Libp2p> {
  const node = await createLibp2p({
    addresses: { listen: options.circuit ? ['/p2p-circuit'] : [] },
    transports: [
      options.from === undefined ? tcp() : tcpFrom(options.from),
      ...(options.circuit || options.dialCircuits ? [circuitRelayTransport()] : [])
    ],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify() }
  })
  cleanups.push(async () => node.stop())
  return node
}

/** One sample of a metric without labels, from Prometheus text. */
function sample(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `))
  return line === undefined ? undefined : Number(line.slice(name.length + 1))
}

async function metricsText(relay: Relay): Promise<string> {
  const res = await fetch(`${relay.httpUrl}/metrics`)
  expect(res.status).toBe(200)
  return res.text()
}

// --- a minimal protobuf reader for the HOP STATUS answer (the relay library does not export its codecs)

type Fields = Map<number, Array<bigint | Uint8Array>>

function readVarint(buf: Uint8Array, at: { i: number }): bigint {
  let value = 0n
  let shift = 0n
  for (;;) {
    const byte = buf[at.i++]
    if (byte === undefined) throw new Error('truncated varint')
    value |= BigInt(byte & 0x7f) << shift
    if ((byte & 0x80) === 0) return value
    shift += 7n
  }
}

function decodeFields(buf: Uint8Array): Fields {
  const fields: Fields = new Map()
  const at = { i: 0 }
  while (at.i < buf.length) {
    const tag = Number(readVarint(buf, at))
    const field = tag >>> 3
    let value: bigint | Uint8Array
    if ((tag & 7) === 0) value = readVarint(buf, at)
    else if ((tag & 7) === 2) {
      const len = Number(readVarint(buf, at))
      value = buf.subarray(at.i, at.i + len)
      at.i += len
    } else throw new Error(`unexpected wire type ${tag & 7}`)
    fields.set(field, [...(fields.get(field) ?? []), value])
  }
  return fields
}

/** Sends a raw HOP RESERVE from `node` to the relay and decodes the STATUS answer. */
async function reserve(node: Libp2p, relay: Relay) {
  const stream = await node.dialProtocol(relay.multiaddrs[0]!, HOP, { signal: AbortSignal.timeout(10_000) })
  const lp = lpStream(stream)
  await lp.write(Uint8Array.of(0x08, 0x00), { signal: AbortSignal.timeout(10_000) }) // type = RESERVE
  const answer = decodeFields((await lp.read({ signal: AbortSignal.timeout(10_000) })).subarray())
  await stream.close().catch(() => {})
  const reservation = answer.get(3)?.[0] as Uint8Array | undefined
  const limit = answer.get(4)?.[0] as Uint8Array | undefined
  return {
    status: Number(answer.get(5)?.[0] ?? 0n),
    expire: reservation ? Number(decodeFields(reservation).get(1)?.[0] ?? 0n) : undefined,
    dataLimit: limit ? (decodeFields(limit).get(2)?.[0] as bigint | undefined) : undefined
  }
}

function get(url: string, path: string): Promise<{ status: number; type: string; body: string }> {
  // node:http sends the path as given (fetch would normalise `..` away before the server sees it).
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { path }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => {
        body += c
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }))
    })
    req.on('error', reject)
    req.end()
  })
}

describe('createRelay', () => {
  it("a libp2p client's circuit reservation appears in parley_relay_reservations", async () => {
    const relay = await startRelay({ dataDir: await tempDir('reserve') })
    expect(sample(await metricsText(relay), 'parley_relay_reservations')).toBe(0)
    const browserLike = await client({ circuit: true })
    await browserLike.dial(relay.multiaddrs[0]!)
    await until(
      () => browserLike.getMultiaddrs().some((a) => a.toString().includes('/p2p-circuit')),
      20_000,
      'a circuit address at the client'
    )
    expect(relay.node.services.circuitRelay.reservations.size).toBe(1)
    const text = await metricsText(relay)
    expect(sample(text, 'parley_relay_reservations')).toBe(1)
    expect(sample(text, 'parley_relay_connections')).toBeGreaterThanOrEqual(1)
  })

  it('maxReservations is enforced and the configured TTL and data limit are handed to clients', async () => {
    const ttl = 600_000
    const relay = await startRelay({
      dataDir: await tempDir('max'),
      maxReservations: 1,
      reservationTtlMs: ttl,
      relayDataLimit: 12_345n
    })
    const before = Date.now()
    const first = await reserve(await client(), relay)
    expect(first.status).toBe(STATUS_OK)
    expect(first.dataLimit).toBe(12_345n)
    // expire is in seconds since the epoch
    expect(first.expire! * 1000).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + ttl - 1000)
    expect(first.expire! * 1000).toBeLessThanOrEqual(Date.now() + ttl + 1000)

    const second = await reserve(await client(), relay)
    expect(second.status).toBe(STATUS_RESERVATION_REFUSED)
    const text = await metricsText(relay)
    expect(sample(text, 'parley_relay_reservations')).toBe(1)
    expect(sample(text, 'parley_relay_max_reservations')).toBe(1)
  })

  it('one /24 cannot take every reservation slot: past its per-range share it is refused, and another /24 still reserves', async () => {
    // A relay whose table one host could fill (24 slots); the per-range share is the default (16).
    const relay = await startRelay({ dataDir: await tempDir('range-reserve'), maxReservations: 24 })
    const statuses: number[] = []
    for (let i = 0; i < 24; i++)
      statuses.push((await reserve(await client({ from: `127.0.0.${10 + i}` }), relay)).status)
    const honest = await reserve(await client({ from: '127.0.1.1' }), relay)
    expect(honest.status).toBe(STATUS_OK)
    expect(statuses.filter((s) => s === STATUS_OK).length).toBe(DEFAULT_MAX_RESERVATIONS_PER_RANGE)
    expect(statuses.filter((s) => s === STATUS_PERMISSION_DENIED).length).toBe(24 - DEFAULT_MAX_RESERVATIONS_PER_RANGE)
    const byRange = new Map<string, number>()
    for (const r of relay.node.services.circuitRelay.reservations.values())
      byRange.set(sourceRange(r.addr), (byRange.get(sourceRange(r.addr)) ?? 0) + 1)
    expect(Object.fromEntries(byRange)).toEqual({ 'ip4:127.0.0': DEFAULT_MAX_RESERVATIONS_PER_RANGE, 'ip4:127.0.1': 1 })
    expect(sample(await metricsText(relay), 'parley_relay_range_reservations_refused_total')).toBe(
      24 - DEFAULT_MAX_RESERVATIONS_PER_RANGE
    )
  })

  it('a relay refuses inbound connections from one /24 past its per-range cap, and another /24 still connects', async () => {
    const relay = await startRelay({ dataDir: await tempDir('range-conn'), maxInboundConnectionsPerRange: 4 })
    const address = relay.multiaddrs[0]!
    let opened = 0
    for (let i = 0; i < 8; i++) {
      try {
        await (await client({ from: `127.0.0.${40 + i}` })).dial(address, { signal: AbortSignal.timeout(5_000) })
        opened++
      } catch {
        // refused by the cap
      }
    }
    expect(opened).toBe(4)
    const honest = await client({ from: '127.0.1.2' })
    expect((await honest.dial(address, { signal: AbortSignal.timeout(5_000) })).status).toBe('open')
    expect(sample(await metricsText(relay), 'parley_relay_range_connections_refused_total')).toBe(4)
  })

  it('a relayed connection is cut past its data limit, and another past its duration limit', async () => {
    const sink = '/parley/test-sink/1.0.0'
    let received = 0
    /** A relay with `limits`, and a circuit address through it to a listener that counts what reaches it. */
    const circuitThrough = async (limits: Partial<RelayOptions>) => {
      const relay = await startRelay({ dataDir: await tempDir('limits'), ...limits })
      const listener = await client({ circuit: true })
      await listener.handle(
        sink,
        async (stream) => {
          for await (const chunk of stream) received += chunk.byteLength
        },
        { runOnLimitedConnection: true }
      )
      await listener.dial(relay.multiaddrs[0]!)
      const reserved = () => listener.getMultiaddrs().find((a) => a.toString().includes('/p2p-circuit'))
      await until(() => reserved() !== undefined, 20_000, 'a reservation')
      return { relay, circuit: reserved()! }
    }
    const { relay, circuit } = await circuitThrough({ relayDataLimit: 32n * 1024n })

    // Data: 256 KiB through a circuit allowed 32 KiB (both directions together) ends the connection early.
    const dialer = await client({ dialCircuits: true })
    const conn = await dialer.dial(circuit, { signal: AbortSignal.timeout(10_000) })
    expect(conn.limits).toBeDefined()
    const stream = await conn.newStream(sink, { runOnLimitedConnection: true })
    const chunk = new Uint8Array(4096)
    let sent = 0
    try {
      // 4 KiB at a time, each one seen at the far end before the next: data flows until the limit cuts it.
      for (let i = 0; i < 64 && conn.status === 'open'; i++) {
        if (!stream.send(chunk)) await stream.onDrain({ signal: AbortSignal.timeout(5000) })
        sent += chunk.length
        const end = Date.now() + 3000
        while (received < sent && conn.status === 'open' && Date.now() < end)
          await new Promise((r) => setTimeout(r, 10))
      }
    } catch {
      // the relay reset the circuit under us
    }
    await until(() => conn.status !== 'open', 10_000, 'the over-limit circuit to be closed')
    expect(received).toBeGreaterThan(0)
    expect(received).toBeLessThanOrEqual(32 * 1024)
    expect(sent).toBeGreaterThan(received)
    // The operator sees the relayed bytes in libp2p's per-protocol transfer counter (docs/relay-operator.md).
    const hop = (await metricsText(relay))
      .split('\n')
      .find(
        (l) =>
          l.startsWith('libp2p_data_transfer_bytes_total{') && l.includes('/libp2p/circuit/relay/0.2.0/hop received')
      )
    expect(Number(hop?.split(' ').at(-1))).toBeGreaterThanOrEqual(received)

    // Duration: an idle circuit is closed once its 1.5 s are up.
    const short = await circuitThrough({ relayDurationLimitMs: 1500 })
    const dialer2 = await client({ dialCircuits: true })
    const started = Date.now()
    const idle = await dialer2.dial(short.circuit, { signal: AbortSignal.timeout(10_000) })
    expect(idle.status).toBe('open')
    await until(() => idle.status !== 'open', 10_000, 'the circuit to expire')
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000)
  })

  it('keeps its PeerId across restarts in a 0600 key file, and refuses a second relay on the same directory', async () => {
    const dataDir = await tempDir('identity')
    const first = await createRelay({ dataDir, listen: ['/ip4/127.0.0.1/tcp/0'], http: false, logSink: () => {} })
    const id = first.peerId.toString()
    expect(first.multiaddrs.every((a) => a.toString().endsWith(`/p2p/${id}`))).toBe(true)
    await expect(
      createRelay({ dataDir, listen: ['/ip4/127.0.0.1/tcp/0'], http: false, logSink: () => {} })
    ).rejects.toBeInstanceOf(DataDirLockedError)
    // A client's peer record (its IP address) lives in the peer store while the relay runs, never on disk.
    const visitor = await client()
    await visitor.dial(first.multiaddrs[0]!)
    await until(() => first.node.peerStore.has(visitor.peerId), 20_000, "the visitor in the relay's peer store")
    await first.stop()
    expect((await stat(join(dataDir, 'peer-key'))).mode & 0o777).toBe(0o600)
    const disk = new LevelDatastore(join(dataDir, 'dht'))
    await disk.open()
    const keys: string[] = []
    for await (const key of disk.queryKeys({})) keys.push(key.toString())
    await disk.close()
    expect(keys.filter((k) => !k.startsWith('/dht/'))).toEqual([])

    const again = await startRelay({ dataDir, http: false })
    expect(again.peerId.toString()).toBe(id)
  })

  it('/healthz answers 503 while the relay drains, and the metrics list every mailbox counter', async () => {
    const relay = await startRelay({ dataDir: await tempDir('health'), shutdownDrainMs: 1000 })
    const ok = await fetch(`${relay.httpUrl}/healthz`)
    expect(ok.status).toBe(200)
    expect(await ok.json()).toEqual({ status: 'ok', peerId: relay.peerId.toString(), connections: 0 })
    const text = await metricsText(relay)
    for (const name of [
      'parley_mailbox_mailboxes',
      'parley_mailbox_stored_envelopes',
      'parley_mailbox_stored_bytes',
      'parley_mailbox_deposits_total',
      'parley_mailbox_fetched_total',
      'parley_mailbox_acked_total',
      'parley_mailbox_purged_total',
      'parley_mailbox_prekeys_handed_out_total'
    ])
      expect(sample(text, name), name).toBe(0)
    expect(text).toContain('# TYPE parley_mailbox_rejects_total counter')
    expect(text).toContain('libp2p_connection_manager_connections')

    const stopping = relay.stop()
    const during = await fetch(`${relay.httpUrl}/healthz`)
    expect(during.status).toBe(503)
    expect(((await during.json()) as { status: string }).status).toBe('shutting-down')
    await stopping
    await expect(fetch(`${relay.httpUrl}/healthz`)).rejects.toThrow()
  })

  it('serves the web directory with content types and refuses traversal, dot-files and symlinks out', async () => {
    const base = await tempDir('web')
    const web = join(base, 'dist')
    await mkdir(join(web, 'assets'), { recursive: true })
    await writeFile(join(web, 'index.html'), '<!doctype html><title>Parley</title>')
    await writeFile(join(web, 'assets', 'app.js'), 'console.log(1)')
    await writeFile(join(web, '.env'), 'SECRET=dot')
    await writeFile(join(base, 'secret.txt'), 'SECRET=outside')
    await symlink(join(base, 'secret.txt'), join(web, 'link.txt'))
    const relay = await startRelay({ dataDir: join(base, 'data'), webDir: web })
    const url = relay.httpUrl!

    const index = await get(url, '/')
    expect(index).toMatchObject({ status: 200, type: 'text/html; charset=utf-8' })
    expect(index.body).toContain('<title>Parley</title>')
    expect(await get(url, '/assets/app.js')).toMatchObject({ status: 200, type: 'text/javascript; charset=utf-8' })
    expect((await get(url, '/assets/')).status).toBe(404)
    for (const path of [
      '/../secret.txt',
      '/assets/../../secret.txt',
      '/%2e%2e/secret.txt',
      '/..%2fsecret.txt',
      '/assets%2f..%2f..%2fsecret.txt',
      '/.env',
      '/link.txt',
      '/nope.html'
    ]) {
      const res = await get(url, path)
      expect(res.status, path).toBe(404)
      expect(res.body, path).not.toContain('SECRET')
    }
    // Without a web directory nothing but /metrics and /healthz is served.
    const bare = await startRelay({ dataDir: join(base, 'data2') })
    expect((await get(bare.httpUrl!, '/')).status).toBe(404)
  })

  it('echoes length-prefixed frames on /parley/bench-echo/1.0.0 only when enabled', async () => {
    const relay = await startRelay({ dataDir: await tempDir('echo'), echo: true })
    const node = await client()
    const stream = await node.dialProtocol(relay.multiaddrs[0]!, ECHO_PROTOCOL)
    const lp = lpStream(stream)
    for (const size of [1, 1000, 60_000]) {
      const frame = Uint8Array.from({ length: size }, (_, i) => i % 251)
      await lp.write(frame)
      expect(new Uint8Array((await lp.read({ signal: AbortSignal.timeout(5000) })).subarray())).toEqual(frame)
    }
    await stream.close()

    const plain = await startRelay({ dataDir: await tempDir('no-echo') })
    await expect(node.dialProtocol(plain.multiaddrs[0]!, ECHO_PROTOCOL)).rejects.toThrow()
  })
})

describe('MonotonicRecordDatastore over LevelDB', () => {
  it('refuses a rolled-back Parley record, also after the store is reopened', async () => {
    const path = join(await tempDir('dht'), 'dht')
    const identityKey = new Uint8Array(32).fill(7)
    const dhtKey = new Uint8Array([...new TextEncoder().encode(DHT_KEY_PREFIX), ...identityKey])
    const expiresAt = Date.now() + 3600_000
    const record = (sequence: number) =>
      new Libp2pRecord(
        dhtKey,
        encodeDhtRecord({
          version: 1,
          identityKey,
          bundle: new Uint8Array(64).fill(1),
          addresses: [],
          mailboxRelays: [],
          sequence,
          expiresAt,
          signature: new Uint8Array(64)
        }),
        new Date()
      ).serialize()
    const key = new Key('/dht/record/test')

    const open = async () => {
      const level = new LevelDatastore(path)
      await level.open()
      return { level, store: new MonotonicRecordDatastore(level) }
    }
    let { level, store } = await open()
    await store.put(key, record(5))
    await expect(store.put(key, record(4))).rejects.toBeInstanceOf(RolledBackRecordError)
    await level.close()
    ;({ level, store } = await open())
    cleanups.push(() => level.close())
    await expect(store.put(key, record(3))).rejects.toBeInstanceOf(RolledBackRecordError)
    // A batch is checked the same way, and a newer record still replaces the stored one.
    const batch = store.batch()
    batch.put(key, record(2))
    await expect(batch.commit()).rejects.toBeInstanceOf(RolledBackRecordError)
    await store.put(key, record(6))
    expect(decodeDhtRecord(Libp2pRecord.deserialize(await store.get(key)).value).sequence).toBe(6)
    // Other keys pass through to the wrapped store untouched.
    await store.put(new Key('/peers/x'), Uint8Array.of(1))
    expect(new Uint8Array(await level.get(new Key('/peers/x')))).toEqual(Uint8Array.of(1))
  })
})

/** A genuine signed Parley DHT record of a fresh identity (what a messenger publishes). */
async function signedRecord(): Promise<{ identityKey: Uint8Array; key: Uint8Array; value: Uint8Array }> {
  const now = Date.now()
  const identity = await generateIdentity(defaultBackend)
  const device = await generateKeyPair('Ed25519')
  const account = await createAccount(defaultBackend, {
    identity,
    deviceKey: publicKeyToProtobuf(device.publicKey),
    now,
    certificateLifetimeMs: 365 * 24 * 3600_000
  })
  const { bundle } = await publishBundle(defaultBackend, account, now, 7 * 24 * 3600_000)
  const record = await signDhtRecord(defaultBackend, identity, {
    bundle: encodeBundle(bundle),
    addresses: [],
    mailboxRelays: [],
    sequence: bundle.sequence,
    expiresAt: now + 40 * 60_000
  })
  return { identityKey: identity.publicKey, key: dhtKeyForIdentity(identity.publicKey), value: encodeDhtRecord(record) }
}

/** A DHT client node (the Node preset, no listening address) that knows only `relay`. */
async function dhtClient(relay: Relay) {
  const node = await createNodeLibp2p(await generateKeyPair('Ed25519'), defaultBackend, {
    listen: [],
    bootstrap: [relay.multiaddrs[0]!.toString()],
    clientMode: true
  })
  await node.start()
  cleanups.push(async () => node.stop())
  return node
}

/** Puts `value` under `key` from `node` until the put reaches a server (the relay enters the routing table first). */
async function putUntilStored(node: Awaited<ReturnType<typeof dhtClient>>, key: Uint8Array, value: Uint8Array) {
  await until(
    async () => {
      let stored = false
      try {
        for await (const e of node.services.dht.put(key, value, { signal: AbortSignal.timeout(5_000) }))
          if (e.name === 'PEER_RESPONSE' && e.messageName === 'PUT_VALUE') stored = true
      } catch {
        // no server yet
      }
      return stored
    },
    20_000,
    'a DHT server to store the record'
  )
}

describe("the relay's DHT records", () => {
  it('a relay keeps at most dhtMaxRecords records, evicting the oldest, and counts them in /metrics', async () => {
    const relay = await startRelay({ dataDir: await tempDir('dht-bound'), dhtMaxRecords: 5 })
    const putter = await dhtClient(relay)
    const records = []
    for (let i = 0; i < 8; i++) {
      const r = await signedRecord()
      records.push(r)
      await putUntilStored(putter, r.key, r.value)
    }
    const text = await metricsText(relay)
    expect(sample(text, 'parley_dht_records')).toBe(5)
    expect(sample(text, 'parley_dht_records_evicted_total')).toBe(3)
    // The newest five are served; the three oldest were evicted.
    const reader = await dhtClient(relay)
    const now = Date.now()
    for (const [i, r] of records.entries()) {
      const found = lookupRecord(reader.services.dht, defaultBackend, r.identityKey, now, {
        signal: AbortSignal.timeout(10_000)
      })
      if (i < 3) await expect(found).rejects.toBeInstanceOf(ContactNotFoundError)
      else expect((await found).record.identityKey).toEqual(r.identityKey)
    }
  })

  it('a record stored at a relay is still served after the relay restarts (same data directory) to a fresh lookup', async () => {
    const dataDir = await tempDir('dht-restart')
    const before = await startRelay({ dataDir })
    const r = await signedRecord()
    const putter = await dhtClient(before)
    await putUntilStored(putter, r.key, r.value)
    await putter.stop()
    await before.stop()

    const after = await startRelay({ dataDir })
    expect(after.peerId.toString()).toBe(before.peerId.toString())
    const reader = await dhtClient(after)
    await until(() => reader.getConnections().length > 0, 20_000, 'the reader to reach the restarted relay')
    const found = await lookupRecord(reader.services.dht, defaultBackend, r.identityKey, Date.now(), {
      signal: AbortSignal.timeout(10_000)
    })
    expect(found.record.identityKey).toEqual(r.identityKey)
    expect(sample(await metricsText(after), 'parley_dht_records')).toBe(1)
  })
})
