/**
 * The mailbox service of a relay (`/parley/mailbox/1.0.0`): anyone deposits an opaque envelope for a registered
 * mailbox, only the owner (a signed fresh challenge) fetches and acknowledges, and the relay deletes on the ack.
 * Owners also leave batches of signed one-time prekeys, handed out once each to senders.
 *
 * Durability: a deposit is answered only after its record is synced to disk (the datastore's writes resolve after
 * fsync: @parley/store's LevelDB backend). Concurrent writes share one synced batch (group commit), so many deposits
 * cost one fsync. Every record is one value, so a crash leaves each one whole or absent: nothing half-written is
 * ever served.
 *
 * What is on disk names no one: mailboxes are filed under `mailboxId(identity)` (a hash), registrations are kept as
 * an expiry and token hashes only, envelopes are opaque bytes with a deposit time, and depositors are not recorded.
 */
import type { Connection, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import {
  type CryptoBackend,
  decodeOneTimePrekey,
  defaultBackend,
  type SignedOneTimePrekey,
  toHex,
  verifyOneTimePrekey
} from '@parley/crypto'
import {
  decodeMailboxRegistration,
  decodeMailboxRequest,
  decodeMessage,
  encodeMailboxResponse,
  encodeMessage,
  MAILBOX_CHALLENGE_BYTES,
  MAILBOX_ITEM_SCHEMA,
  MAX_MAILBOX_PAGE_BYTES,
  MAX_MAILBOX_PAGE_ITEMS,
  MAX_MAILBOX_REQUEST_BYTES,
  type MailboxItem,
  type MailboxRequest,
  type MailboxResponse,
  mailboxId,
  protocols,
  verifyMailboxAuth,
  verifyMailboxRegistration,
  WireError
} from '@parley/wire'
import { type Datastore, Key } from 'interface-datastore'
import type { Libp2p } from 'libp2p'
import { GroupCommit } from './group-commit.ts'
import {
  DEFAULT_MAILBOX_LIMITS,
  type MailboxErrorCode,
  type MailboxLimits,
  type MailboxServerOptions,
  type MailboxStats,
  type RelayLog
} from './mailbox-types.ts'
import { RangeRateLimiter, sourceRange } from './source-range.ts'

/** Refusals are logged at most once per reason and op in this interval (with a count). */
export const REJECT_LOG_INTERVAL_MS = 10_000

const PREFIX = '/parley-mailbox'
const REG = `${PREFIX}/r/`
const ENV = `${PREFIX}/e/`
const OTK = `${PREFIX}/k/`

type Kind = 'x25519' | 'kem'

interface Box {
  /** Registration expiry (0: none, e.g. items left after the registration lapsed). */
  expiresAt: number
  tokens: Set<string>
  /** id -> size and deposit time, in id order. */
  items: Map<number, { size: number; depositedAt: number }>
  bytes: number
  /** Count and bytes reserved by deposits whose write is in flight. */
  reservedItems: number
  reservedBytes: number
  prekeys: Record<Kind, number[]>
}

class MailboxReject extends Error {
  readonly code: MailboxErrorCode
  readonly retryAfterMs: number | undefined
  constructor(code: MailboxErrorCode, retryAfterMs?: number) {
    super(code)
    this.code = code
    this.retryAfterMs = retryAfterMs
  }
}

/** The running service. */
export interface MailboxServer {
  /** Registers the protocol handler on `node` and starts the purge timer. */
  attach(node: Libp2p): Promise<void>
  stats(): MailboxStats
  /** Deletes envelopes past their TTL and lapsed registrations; returns how many envelopes went. */
  purgeExpired(): Promise<number>
  /** Whether the relay still holds `owner`'s one-time prekey `id` of `kind` (diagnostics and tests). */
  hasPrekey(owner: Uint8Array, kind: 'x25519' | 'kem', id: number): Promise<boolean>
  /** Stops taking requests and waits for the ones in flight (their synced writes finish first). */
  close(): Promise<void>
}

function idKey(id: number): string {
  return id.toString(16).padStart(14, '0')
}

const utf8 = new TextEncoder()
const utf8d = new TextDecoder()

/** Opens the service over `options.datastore`, loading its index (registrations, envelope sizes, prekey ids). */
export async function openMailboxServer(options: MailboxServerOptions): Promise<MailboxServer> {
  const server = new MailboxServerImpl(options)
  await server.load()
  return server
}

class MailboxServerImpl implements MailboxServer {
  readonly #store: Datastore
  readonly #limits: MailboxLimits
  readonly #backend: CryptoBackend
  readonly #now: () => number
  readonly #protocol: string
  readonly #log: RelayLog
  readonly #writer: GroupCommit
  readonly #boxes = new Map<string, Box>()
  readonly #depositLimiter: RangeRateLimiter
  readonly #ownerLimiter: RangeRateLimiter
  readonly #prekeyLimiter: RangeRateLimiter
  readonly #inflight = new Set<Promise<unknown>>()
  readonly #shutdown = new AbortController()
  #node: Libp2p | undefined
  #relayId: Uint8Array = new Uint8Array(0)
  #lastId = 0
  #timer: ReturnType<typeof setTimeout> | undefined
  readonly #counters = { deposits: 0, fetched: 0, acked: 0, purged: 0, prekeysHandedOut: 0, registrations: 0 }
  readonly #rejects: Record<string, number> = {}
  readonly #rejectLog = new Map<string, { at: number; unlogged: number }>()

  constructor(options: MailboxServerOptions) {
    this.#store = options.datastore
    this.#limits = { ...DEFAULT_MAILBOX_LIMITS, ...options.limits }
    this.#backend = options.backend ?? defaultBackend
    this.#now = options.now ?? Date.now
    this.#protocol = protocols(options.protocolPrefix).mailbox
    this.#log = options.log ?? (() => {})
    this.#writer = new GroupCommit(this.#store)
    this.#depositLimiter = new RangeRateLimiter(this.#limits.depositsPerMinutePerRange)
    this.#ownerLimiter = new RangeRateLimiter(this.#limits.ownerOpsPerMinutePerRange)
    this.#prekeyLimiter = new RangeRateLimiter(this.#limits.prekeyRequestsPerMinutePerRange)
  }

  #box(id: string, create: boolean): Box | undefined {
    let box = this.#boxes.get(id)
    if (box === undefined && create) {
      box = {
        expiresAt: 0,
        tokens: new Set(),
        items: new Map(),
        bytes: 0,
        reservedItems: 0,
        reservedBytes: 0,
        prekeys: { x25519: [], kem: [] }
      }
      this.#boxes.set(id, box)
    }
    return box
  }

  async load(): Promise<void> {
    for await (const { key, value } of this.#store.query({ prefix: PREFIX })) {
      const k = key.toString()
      if (k.startsWith(REG)) {
        const rec = JSON.parse(utf8d.decode(value)) as { expiresAt: number; tokens: string[] }
        const box = this.#box(k.slice(REG.length), true)!
        box.expiresAt = rec.expiresAt
        box.tokens = new Set(rec.tokens)
      } else if (k.startsWith(ENV)) {
        const [mbox, idHex] = k.slice(ENV.length).split('/') as [string, string]
        const item = decodeMessage(MAILBOX_ITEM_SCHEMA, value)
        const id = Number.parseInt(idHex, 16)
        const box = this.#box(mbox, true)!
        box.items.set(id, { size: item.envelope.length, depositedAt: item.depositedAt })
        box.bytes += item.envelope.length
        if (id > this.#lastId) this.#lastId = id
      } else if (k.startsWith(OTK)) {
        const [mbox, kind, idHex] = k.slice(OTK.length).split('/') as [string, string, string]
        if (kind !== 'x25519' && kind !== 'kem') continue
        this.#box(mbox, true)!.prekeys[kind].push(Number.parseInt(idHex, 16))
      }
    }
    // Keys come sorted, but sort anyway: the index order is the delivery order.
    for (const box of this.#boxes.values()) {
      box.items = new Map([...box.items.entries()].sort((a, b) => a[0] - b[0]))
      box.prekeys.x25519.sort((a, b) => a - b)
      box.prekeys.kem.sort((a, b) => a - b)
    }
  }

  async attach(node: Libp2p): Promise<void> {
    this.#node = node
    this.#relayId = node.peerId.toMultihash().bytes
    await node.handle(this.#protocol, (stream, connection) => this.#track(this.#serve(stream, connection)), {
      maxInboundStreams: this.#limits.maxStreamsPerConnection
    })
    this.#schedulePurge()
  }

  #schedulePurge(): void {
    if (this.#shutdown.signal.aborted) return
    this.#timer = setTimeout(() => {
      this.purgeExpired()
        .catch((e) => this.#log('mailbox.purge.failed', { error: String((e as Error).name) }))
        .finally(() => this.#schedulePurge())
    }, this.#limits.purgeIntervalMs)
    this.#timer.unref?.()
  }

  #track<T>(p: Promise<T>): Promise<T> {
    this.#inflight.add(p)
    void p.finally(() => this.#inflight.delete(p)).catch(() => {})
    return p
  }

  stats(): MailboxStats {
    const now = this.#now()
    let mailboxes = 0
    let storedEnvelopes = 0
    let storedBytes = 0
    let storedPrekeys = 0
    for (const box of this.#boxes.values()) {
      if (box.expiresAt > now) mailboxes++
      storedEnvelopes += box.items.size
      storedBytes += box.bytes
      storedPrekeys += box.prekeys.x25519.length + box.prekeys.kem.length
    }
    return { mailboxes, storedEnvelopes, storedBytes, storedPrekeys, ...this.#counters, rejects: { ...this.#rejects } }
  }

  async hasPrekey(owner: Uint8Array, kind: Kind, id: number): Promise<boolean> {
    return this.#boxes.get(await this.#idOf(owner))?.prekeys[kind].includes(id) ?? false
  }

  async close(): Promise<void> {
    this.#shutdown.abort()
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    await this.#node?.unhandle(this.#protocol).catch(() => {})
    // Streams idle in read() end with the shutdown signal; operations already writing finish their sync.
    await Promise.allSettled([...this.#inflight])
  }

  // ---------------------------------------------------------------- protocol

  async #serve(stream: Stream, connection: Connection): Promise<void> {
    const lp = lpStream(stream, { maxDataLength: MAX_MAILBOX_REQUEST_BYTES })
    const range = sourceRange(connection.remoteAddr)
    const session: Session = {}
    try {
      while (!this.#shutdown.signal.aborted) {
        const signal = AbortSignal.any([AbortSignal.timeout(this.#limits.streamIdleMs), this.#shutdown.signal])
        let bytes: Uint8Array
        try {
          bytes = (await lp.read({ signal })).subarray()
        } catch {
          break // the client closed its side, went idle, or we are shutting down
        }
        let response: MailboxResponse
        let op = 'unknown'
        try {
          const request = decodeMailboxRequest(bytes)
          op = request.op
          response = await this.#handle(request, range, session)
        } catch (e) {
          const code: MailboxErrorCode =
            e instanceof MailboxReject ? e.code : e instanceof WireError ? 'Malformed' : 'StoreFailed'
          this.#reject(code, op)
          response = {
            status: 'error',
            errorCode: code,
            ...(e instanceof MailboxReject && e.retryAfterMs !== undefined && { retryAfterMs: e.retryAfterMs })
          }
        }
        await lp.write(encodeMailboxResponse(response), { signal: AbortSignal.timeout(this.#limits.streamIdleMs) })
      }
      await stream.close({ signal: AbortSignal.timeout(5000) }).catch(() => stream.abort(new Error('close failed')))
    } catch (e) {
      stream.abort(e instanceof Error ? e : new Error(String(e)))
    }
  }

  #reject(code: MailboxErrorCode, op: string): void {
    this.#rejects[code] = (this.#rejects[code] ?? 0) + 1
    // A flood must not flood the log: one line per reason and op every REJECT_LOG_INTERVAL_MS, with the count since.
    const key = `${code}/${op}`
    const now = this.#now()
    const last = this.#rejectLog.get(key) ?? { at: Number.NEGATIVE_INFINITY, unlogged: 0 }
    last.unlogged++
    if (now - last.at >= REJECT_LOG_INTERVAL_MS) {
      this.#log('mailbox.reject', { op, reason: code, count: last.unlogged })
      last.at = now
      last.unlogged = 0
    }
    this.#rejectLog.set(key, last)
  }

  #limit(limiter: RangeRateLimiter, range: string): void {
    const wait = limiter.take(range, this.#now())
    if (wait > 0) throw new MailboxReject('RateLimited', wait)
  }

  async #handle(request: MailboxRequest, range: string, session: Session): Promise<MailboxResponse> {
    if (this.#shutdown.signal.aborted) throw new MailboxReject('ShuttingDown')
    switch (request.op) {
      case 'deposit':
        this.#limit(this.#depositLimiter, range)
        return this.#deposit(request.mailbox, request.envelope, request.depositToken)
      case 'register':
        this.#limit(this.#ownerLimiter, range)
        return this.#register(request.registration)
      case 'challenge': {
        this.#limit(this.#ownerLimiter, range)
        const challenge = this.#backend.randomBytes(MAILBOX_CHALLENGE_BYTES)
        session.challenge = {
          bytes: challenge,
          mailbox: request.mailbox,
          expiresAt: this.#now() + this.#limits.challengeTtlMs
        }
        session.owner = undefined
        return { status: 'ok', challenge }
      }
      case 'auth':
        return this.#auth(request.mailbox, request.challenge, request.signature, session)
      case 'take-prekeys':
        this.#limit(this.#prekeyLimiter, range)
        return this.#takePrekeys(request.mailbox)
      case 'fetch':
        return this.#fetch(this.#owner(session))
      case 'ack':
        return this.#ack(this.#owner(session), request.ids)
      case 'put-prekeys':
        this.#limit(this.#ownerLimiter, range)
        return this.#putPrekeys(this.#owner(session), session.identityKey!, request.oneTimePrekeys)
    }
  }

  #owner(session: Session): string {
    if (session.owner === undefined) throw new MailboxReject('NotAuthenticated')
    return session.owner
  }

  async #idOf(identityKey: Uint8Array): Promise<string> {
    return toHex(await mailboxId(this.#backend, identityKey))
  }

  #live(id: string): Box {
    const box = this.#boxes.get(id)
    if (box === undefined || box.expiresAt <= this.#now()) throw new MailboxReject('UnknownMailbox')
    return box
  }

  async #deposit(mailbox: Uint8Array, envelope: Uint8Array, token?: Uint8Array): Promise<MailboxResponse> {
    if (envelope.length > this.#limits.maxEnvelopeBytes) throw new MailboxReject('TooLarge')
    const id = await this.#idOf(mailbox)
    const box = this.#live(id)
    if (box.tokens.size > 0) {
      if (token === undefined) throw new MailboxReject('DepositTokenRequired')
      if (!box.tokens.has(toHex(await this.#backend.sha256(token)))) throw new MailboxReject('DepositTokenRequired')
    }
    if (
      box.items.size + box.reservedItems + 1 > this.#limits.maxItemsPerMailbox ||
      box.bytes + box.reservedBytes + envelope.length > this.#limits.maxBytesPerMailbox
    ) {
      throw new MailboxReject('QuotaExceeded')
    }
    // Reserve before the write so concurrent deposits cannot overshoot the quota together.
    box.reservedItems++
    box.reservedBytes += envelope.length
    const now = this.#now()
    const itemId = Math.max(this.#lastId + 1, now * 1024)
    this.#lastId = itemId
    const value = encodeMessage(MAILBOX_ITEM_SCHEMA, { id: itemId, depositedAt: now, envelope })
    try {
      await this.#writer.write((b) => b.put(new Key(`${ENV}${id}/${idKey(itemId)}`), value))
    } catch (e) {
      this.#log('mailbox.store.failed', { op: 'deposit', error: String((e as Error).name) })
      throw new MailboxReject('StoreFailed')
    } finally {
      box.reservedItems--
      box.reservedBytes -= envelope.length
    }
    box.items.set(itemId, { size: envelope.length, depositedAt: now })
    box.bytes += envelope.length
    this.#counters.deposits++
    return { status: 'ok', id: itemId }
  }

  async #register(bytes: Uint8Array): Promise<MailboxResponse> {
    const reg = decodeMailboxRegistration(bytes)
    if (toHex(reg.relay) !== toHex(this.#relayId)) throw new MailboxReject('WrongRelay')
    const now = this.#now()
    if (reg.expiresAt <= now) throw new MailboxReject('RegistrationExpired')
    if (reg.expiresAt - now > this.#limits.maxRegistrationLifetimeMs) throw new MailboxReject('RegistrationExpired')
    try {
      await verifyMailboxRegistration(this.#backend, reg)
    } catch {
      throw new MailboxReject('BadSignature')
    }
    const id = await this.#idOf(reg.identityKey)
    const existing = this.#boxes.get(id)
    if (existing !== undefined && existing.expiresAt > reg.expiresAt) throw new MailboxReject('StaleRegistration')
    if (existing === undefined || existing.expiresAt <= now) {
      let live = 0
      for (const b of this.#boxes.values()) if (b.expiresAt > now) live++
      if (live >= this.#limits.maxMailboxes) throw new MailboxReject('TooManyMailboxes')
    }
    const tokens = reg.depositTokenHashes.map(toHex)
    const record = utf8.encode(JSON.stringify({ expiresAt: reg.expiresAt, tokens }))
    try {
      await this.#writer.write((b) => b.put(new Key(`${REG}${id}`), record))
    } catch {
      throw new MailboxReject('StoreFailed')
    }
    const box = this.#box(id, true)!
    box.expiresAt = reg.expiresAt
    box.tokens = new Set(tokens)
    this.#counters.registrations++
    this.#log('mailbox.register', { tokens: tokens.length })
    return { status: 'ok' }
  }

  async #auth(
    mailbox: Uint8Array,
    challenge: Uint8Array,
    signature: Uint8Array,
    session: Session
  ): Promise<MailboxResponse> {
    const issued = session.challenge
    // Single use, whatever the outcome: a replayed or a failed AUTH needs a fresh challenge.
    session.challenge = undefined
    if (
      issued === undefined ||
      issued.expiresAt <= this.#now() ||
      toHex(issued.bytes) !== toHex(challenge) ||
      toHex(issued.mailbox) !== toHex(mailbox)
    ) {
      throw new MailboxReject('UnknownChallenge')
    }
    if (!(await verifyMailboxAuth(this.#backend, this.#relayId, mailbox, challenge, signature))) {
      throw new MailboxReject('BadSignature')
    }
    const id = await this.#idOf(mailbox)
    const box = this.#live(id)
    session.owner = id
    session.identityKey = mailbox
    return { status: 'ok', prekeysX25519: box.prekeys.x25519.length, prekeysKem: box.prekeys.kem.length }
  }

  async #fetch(id: string): Promise<MailboxResponse> {
    const box = this.#boxes.get(id)
    const items: MailboxItem[] = []
    let bytes = 0
    let more = false
    if (box !== undefined && box.items.size > 0) {
      const cutoff = this.#now() - this.#limits.ttlMs
      // One ordered range read over the mailbox's keys (ids are fixed-width hex, so key order is id order), not a
      // read per envelope: a page of a hundred envelopes is one LevelDB iterator.
      for await (const { value } of this.#store.query({ prefix: `${ENV}${id}/` })) {
        const item = decodeMessage(MAILBOX_ITEM_SCHEMA, value)
        // Not yet indexed (a deposit whose sync is in flight) or acknowledged meanwhile: not served.
        if (!box.items.has(item.id) || item.depositedAt <= cutoff) continue
        if (
          items.length > 0 &&
          (bytes + item.envelope.length > MAX_MAILBOX_PAGE_BYTES || items.length >= MAX_MAILBOX_PAGE_ITEMS)
        ) {
          more = true
          break
        }
        items.push(item)
        bytes += item.envelope.length
      }
    }
    this.#counters.fetched += items.length
    return { status: 'ok', items, more }
  }

  async #ack(id: string, ids: readonly number[]): Promise<MailboxResponse> {
    const box = this.#boxes.get(id)
    const known = box === undefined ? [] : ids.filter((i) => box.items.has(i))
    if (box !== undefined && known.length > 0) {
      try {
        await this.#writer.write((b) => {
          for (const i of known) b.delete(new Key(`${ENV}${id}/${idKey(i)}`))
        })
      } catch {
        throw new MailboxReject('StoreFailed')
      }
      for (const i of known) {
        const meta = box.items.get(i)
        if (meta === undefined) continue
        box.items.delete(i)
        box.bytes -= meta.size
        this.#counters.acked++
      }
    }
    return { status: 'ok' }
  }

  async #putPrekeys(id: string, identityKey: Uint8Array, encoded: readonly Uint8Array[]): Promise<MailboxResponse> {
    const box = this.#live(id)
    const prekeys: SignedOneTimePrekey[] = []
    for (const bytes of encoded) {
      try {
        const p = decodeOneTimePrekey(bytes)
        await verifyOneTimePrekey(this.#backend, identityKey, p)
        prekeys.push(p)
      } catch {
        throw new MailboxReject('BadPrekey')
      }
    }
    const add: Array<{ kind: Kind; id: number; bytes: Uint8Array }> = []
    const counts = { x25519: box.prekeys.x25519.length, kem: box.prekeys.kem.length }
    for (let i = 0; i < prekeys.length; i++) {
      const p = prekeys[i]!
      if (box.prekeys[p.kind].includes(p.id) || add.some((a) => a.kind === p.kind && a.id === p.id)) continue
      if (counts[p.kind] >= this.#limits.maxOneTimePrekeysPerMailbox) continue
      counts[p.kind]++
      add.push({ kind: p.kind, id: p.id, bytes: encoded[i]! })
    }
    if (add.length > 0) {
      try {
        await this.#writer.write((b) => {
          for (const a of add) b.put(new Key(`${OTK}${id}/${a.kind}/${a.id.toString(16).padStart(8, '0')}`), a.bytes)
        })
      } catch {
        throw new MailboxReject('StoreFailed')
      }
      for (const a of add) box.prekeys[a.kind].push(a.id)
      box.prekeys.x25519.sort((a, b) => a - b)
      box.prekeys.kem.sort((a, b) => a - b)
    }
    return { status: 'ok', prekeysX25519: box.prekeys.x25519.length, prekeysKem: box.prekeys.kem.length }
  }

  async #takePrekeys(mailbox: Uint8Array): Promise<MailboxResponse> {
    const id = await this.#idOf(mailbox)
    const box = this.#live(id)
    // Taken out of the index before any await: concurrent takers never get the same key.
    const taken: Array<{ kind: Kind; id: number }> = []
    for (const kind of ['x25519', 'kem'] as const) {
      const pid = box.prekeys[kind].shift()
      if (pid !== undefined) taken.push({ kind, id: pid })
    }
    if (taken.length === 0) return { status: 'ok' }
    const keyOf = (t: { kind: Kind; id: number }) =>
      new Key(`${OTK}${id}/${t.kind}/${t.id.toString(16).padStart(8, '0')}`)
    const values: Uint8Array[] = []
    try {
      for (const t of taken) values.push(await this.#store.get(keyOf(t)))
      // Deleted (synced) before they are handed out: a crash can lose a key, never give one out twice.
      await this.#writer.write((b) => {
        for (const t of taken) b.delete(keyOf(t))
      })
    } catch {
      throw new MailboxReject('StoreFailed')
    }
    this.#counters.prekeysHandedOut += taken.length
    return { status: 'ok', oneTimePrekeys: values }
  }

  async purgeExpired(): Promise<number> {
    const now = this.#now()
    const cutoff = now - this.#limits.ttlMs
    const deletes: Array<{ box: Box; mbox: string; ids: number[] }> = []
    const lapsed: string[] = []
    for (const [mbox, box] of this.#boxes) {
      const ids: number[] = []
      for (const [i, meta] of box.items) if (meta.depositedAt <= cutoff) ids.push(i)
      if (ids.length > 0) deletes.push({ box, mbox, ids })
      if (box.expiresAt <= now && box.items.size === ids.length && box.reservedItems === 0) lapsed.push(mbox)
    }
    if (deletes.length === 0 && lapsed.length === 0) return 0
    await this.#writer.write((b) => {
      for (const d of deletes) for (const i of d.ids) b.delete(new Key(`${ENV}${d.mbox}/${idKey(i)}`))
      for (const mbox of lapsed) {
        const box = this.#boxes.get(mbox)!
        b.delete(new Key(`${REG}${mbox}`))
        for (const kind of ['x25519', 'kem'] as const) {
          for (const pid of box.prekeys[kind])
            b.delete(new Key(`${OTK}${mbox}/${kind}/${pid.toString(16).padStart(8, '0')}`))
        }
      }
    })
    let n = 0
    for (const d of deletes) {
      for (const i of d.ids) {
        const meta = d.box.items.get(i)
        if (meta === undefined) continue
        d.box.items.delete(i)
        d.box.bytes -= meta.size
        n++
      }
    }
    for (const mbox of lapsed) this.#boxes.delete(mbox)
    this.#counters.purged += n
    if (n > 0 || lapsed.length > 0) this.#log('mailbox.purge', { envelopes: n, mailboxes: lapsed.length })
    return n
  }
}

interface Session {
  challenge?: { bytes: Uint8Array; mailbox: Uint8Array; expiresAt: number } | undefined
  owner?: string | undefined
  identityKey?: Uint8Array | undefined
}
