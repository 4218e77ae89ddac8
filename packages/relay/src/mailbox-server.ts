/**
 * The mailbox service of a relay (`/parley/mailbox/1.0.0`): anyone deposits an opaque envelope for a registered
 * mailbox, only the owner (a signed fresh challenge) fetches and acknowledges, and the relay deletes on the ack.
 * Owners also leave batches of signed one-time prekeys, handed out once each to senders.
 *
 * This file is the stream side: it reads length-prefixed requests (at most wire's MAX_MAILBOX_REQUEST_BYTES),
 * applies the per-range rate limits, runs each operation (mailbox-ops.ts) and writes one response per request.
 * What is on disk is in mailbox-layout.ts, the quota index in mailbox-index.ts.
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
import { defaultBackend } from '@parley/crypto'
import { sourceRange } from '@parley/network'
import {
  decodeMailboxRequest,
  encodeMailboxResponse,
  MAX_MAILBOX_REQUEST_BYTES,
  type MailboxErrorCode,
  type MailboxRequest,
  type MailboxResponse,
  protocols,
  WireError
} from '@parley/wire'
import type { Libp2p } from 'libp2p'
import { InvalidRelayOptionError, MailboxRefusedError } from './errors.ts'
import { GroupCommit } from './group-commit.ts'
import { loadMailboxIndex, type MailboxIndex } from './mailbox-index.ts'
import type { PrekeyKind } from './mailbox-layout.ts'
import { MailboxOps, type Session } from './mailbox-ops.ts'
import {
  DEFAULT_MAILBOX_LIMITS,
  MAILBOX_STREAM_CLOSE_TIMEOUT_MS,
  type MailboxLimits,
  type MailboxServerOptions,
  type MailboxStats,
  REJECT_LOG_INTERVAL_MS,
  type RelayLog
} from './mailbox-types.ts'
import { RangeRateLimiter } from './source-range.ts'

/** The running service. */
export interface MailboxServer {
  /** Registers the protocol handler on `node` and starts the purge timer. */
  attach(node: Libp2p): Promise<void>
  stats(): MailboxStats
  /**
   * Deletes envelopes past their TTL, and the prekeys and (once empty) the mailboxes of lapsed registrations;
   * returns how many envelopes went.
   */
  purgeExpired(): Promise<number>
  /** Whether the relay still holds `owner`'s one-time prekey `id` of `kind` (diagnostics and tests). */
  hasPrekey(owner: Uint8Array, kind: PrekeyKind, id: number): Promise<boolean>
  /** Stops taking requests and waits for the ones in flight (their synced writes finish first). */
  close(): Promise<void>
}

/** Every limit must be a whole number of at least 1 (a 0 would refuse everything, or purge in a busy loop). */
function checkLimits(limits: MailboxLimits): void {
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 1)
      throw new InvalidRelayOptionError(`mailboxLimits.${name}`, 'an integer >= 1')
  }
}

/** Opens the service over `options.datastore`, rebuilding its quota index from the records there. */
export async function openMailboxServer(options: MailboxServerOptions): Promise<MailboxServer> {
  const limits = { ...DEFAULT_MAILBOX_LIMITS, ...options.limits }
  checkLimits(limits)
  return new MailboxServerImpl(options, limits, await loadMailboxIndex(options.datastore))
}

class MailboxServerImpl implements MailboxServer {
  readonly #limits: MailboxLimits
  readonly #now: () => number
  readonly #protocol: string
  readonly #log: RelayLog
  readonly #index: MailboxIndex
  readonly #ops: MailboxOps
  readonly #depositLimiter: RangeRateLimiter
  readonly #ownerLimiter: RangeRateLimiter
  readonly #prekeyLimiter: RangeRateLimiter
  readonly #inflight = new Set<Promise<unknown>>()
  readonly #shutdown = new AbortController()
  #node: Libp2p | undefined
  #relayId: Uint8Array = new Uint8Array(0)
  #timer: ReturnType<typeof setTimeout> | undefined
  readonly #rejects: Record<string, number> = {}
  readonly #rejectLog = new Map<string, { at: number; unlogged: number }>()

  constructor(options: MailboxServerOptions, limits: MailboxLimits, index: MailboxIndex) {
    this.#limits = limits
    this.#now = options.now ?? Date.now
    this.#protocol = protocols(options.protocolPrefix).mailbox
    this.#log = options.log ?? (() => {})
    this.#index = index
    this.#ops = new MailboxOps({
      store: options.datastore,
      writer: new GroupCommit(options.datastore),
      index,
      limits,
      backend: options.backend ?? defaultBackend,
      now: this.#now,
      log: this.#log,
      relayId: () => this.#relayId
    })
    this.#depositLimiter = new RangeRateLimiter(limits.depositsPerMinutePerRange)
    this.#ownerLimiter = new RangeRateLimiter(limits.ownerOpsPerMinutePerRange)
    this.#prekeyLimiter = new RangeRateLimiter(limits.prekeyRequestsPerMinutePerRange)
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
      // Tracked like a request: close() waits for its synced write before the store goes away.
      this.#track(this.purgeExpired())
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
    const totals = this.#index.totals()
    const c = this.#ops.counters
    return {
      mailboxes: this.#index.liveMailboxes(this.#now()),
      storedEnvelopes: this.#index.envelopes,
      storedBytes: totals.envelopeBytes,
      storedPrekeys: totals.prekeys,
      deposits: c.deposits,
      fetched: c.fetched,
      acked: c.acked,
      purged: c.purged,
      prekeysHandedOut: c.prekeysHandedOut,
      registrations: c.registrations,
      rejects: { ...this.#rejects },
      storeBytes: this.#index.storeBytes,
      maxStoreBytes: this.#limits.maxStoreBytes,
      maxStoredEnvelopes: this.#limits.maxStoredEnvelopes,
      maxMailboxes: this.#limits.maxMailboxes,
      storeFull: { ...c.storeFull }
    }
  }

  purgeExpired(): Promise<number> {
    return this.#ops.purgeExpired()
  }

  hasPrekey(owner: Uint8Array, kind: PrekeyKind, id: number): Promise<boolean> {
    return this.#ops.hasPrekey(owner, kind, id)
  }

  async close(): Promise<void> {
    this.#shutdown.abort()
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    await this.#node?.unhandle(this.#protocol).catch(() => {})
    // Streams idle in read() end with the shutdown signal; operations already writing finish their sync.
    await Promise.allSettled([...this.#inflight])
  }

  /** One stream: requests in, one response each, until the client closes, goes idle, or the relay shuts down. */
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
          break // the client closed its side, went idle, sent an oversized frame, or we are shutting down
        }
        const response = await this.#answer(bytes, range, session)
        await lp.write(encodeMailboxResponse(response), { signal: AbortSignal.timeout(this.#limits.streamIdleMs) })
      }
      await stream
        .close({ signal: AbortSignal.timeout(MAILBOX_STREAM_CLOSE_TIMEOUT_MS) })
        .catch(() => stream.abort(new Error('close failed')))
    } catch (e) {
      stream.abort(e instanceof Error ? e : new Error(String(e)))
    }
  }

  /** The response to one request frame: the operation's answer, or its refusal as an error code. */
  async #answer(bytes: Uint8Array, range: string, session: Session): Promise<MailboxResponse> {
    let op = 'unknown'
    try {
      const request = decodeMailboxRequest(bytes)
      op = request.op
      return await this.#handle(request, range, session)
    } catch (e) {
      const code: MailboxErrorCode =
        e instanceof MailboxRefusedError ? e.code : e instanceof WireError ? 'Malformed' : 'StoreFailed'
      this.#reject(code, op)
      return {
        status: 'error',
        errorCode: code,
        ...(e instanceof MailboxRefusedError && e.retryAfterMs !== undefined && { retryAfterMs: e.retryAfterMs })
      }
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
    if (wait > 0) throw new MailboxRefusedError('RateLimited', wait)
  }

  #owner(session: Session): string {
    if (session.owner === undefined) throw new MailboxRefusedError('NotAuthenticated')
    return session.owner
  }

  async #handle(request: MailboxRequest, range: string, session: Session): Promise<MailboxResponse> {
    if (this.#shutdown.signal.aborted) throw new MailboxRefusedError('ShuttingDown')
    const ops = this.#ops
    switch (request.op) {
      case 'deposit':
        this.#limit(this.#depositLimiter, range)
        return ops.deposit(request.mailbox, request.envelope, request.depositToken)
      case 'register':
        this.#limit(this.#ownerLimiter, range)
        return ops.register(request.registration)
      case 'challenge':
        this.#limit(this.#ownerLimiter, range)
        return ops.challenge(request.mailbox, session)
      case 'auth':
        return ops.auth(request.mailbox, request.challenge, request.signature, session)
      case 'take-prekeys':
        this.#limit(this.#prekeyLimiter, range)
        return ops.takePrekeys(request.mailbox)
      case 'fetch':
        return ops.fetch(this.#owner(session))
      case 'ack':
        return ops.ack(this.#owner(session), request.ids)
      case 'put-prekeys':
        this.#limit(this.#ownerLimiter, range)
        return ops.putPrekeys(this.#owner(session), session.identityKey!, request.oneTimePrekeys)
    }
  }
}
