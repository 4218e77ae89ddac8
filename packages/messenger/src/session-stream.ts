/**
 * The session stream (`/parley/session/1.0.0`): one long-lived stream per peer instead of a stream per message.
 * The sender writes Envelope frames back to back, at most SESSION_WINDOW unanswered, each only once the commit that
 * made its ciphertext is durable (outbox.ts); the recipient handles them concurrently and answers each with an Ack once
 * it is durably stored (or refused), in frame order (session-serve.ts). An Ack names its message id, so answers are
 * matched by id. A broken stream fails every frame still waiting (the outbox retries them, with the same bytes);
 * the next delivery opens a new one. A stream on a relayed connection is retired when a direct connection to the peer
 * opens (direct.ts): the frames in flight finish on it, the next ones open a stream on the direct connection.
 */
import type { Connection, PeerId, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { toHex } from '@parley/crypto'
import { type ConnectionKind, connectionKind } from '@parley/network'
import { type Ack, decodeAck, encodeEnvelope, MAX_ENVELOPE_BYTES } from '@parley/wire'
import { SESSION_WINDOW } from './constants.ts'
import { PeerProtocolError } from './errors.ts'

type LpStream = ReturnType<typeof lpStream>

interface Waiting {
  readonly resolve: (ack: Ack) => void
  readonly reject: (e: Error) => void
}

/** One open session stream to a peer: a write chain, and a reader that settles what waits. */
class Outbound {
  readonly #stream: Stream
  readonly #lp: LpStream
  readonly #waiting = new Map<string, Waiting>()
  readonly #room: Array<() => void> = []
  #writes: Promise<void> = Promise.resolve()
  #broken: Error | undefined
  #retired = false
  /** The kind of connection the stream runs on, when it was known at open. */
  readonly kind: ConnectionKind | undefined

  constructor(stream: Stream, onClose: () => void, kind?: ConnectionKind) {
    this.#stream = stream
    this.kind = kind
    this.#lp = lpStream(stream, { maxDataLength: MAX_ENVELOPE_BYTES })
    void this.#read().finally(onClose)
  }

  get broken(): boolean {
    return this.#broken !== undefined
  }

  get stream(): Stream {
    return this.#stream
  }

  /** No new frames: the ones in flight get their Acks, then the stream closes (a graceful end, not an abort). */
  retire(): void {
    this.#retired = true
    this.#closeIfIdle()
  }

  /** Retires the stream once the frames its opener is about to send (in this task) have their Acks. */
  retireAfterUse(): void {
    this.#retired = true
    setTimeout(() => this.#closeIfIdle(), 0)
  }

  #closeIfIdle(): void {
    if (!this.#retired || this.#waiting.size > 0 || this.#broken !== undefined) return
    void this.#writes
      .then(() => this.#stream.close())
      .catch((e: unknown) => this.#fail(e instanceof Error ? e : new Error(String(e))))
  }

  async deliver(messageId: Uint8Array, ciphertext: Uint8Array, signal: AbortSignal): Promise<Ack> {
    while (this.#waiting.size >= SESSION_WINDOW && this.#broken === undefined) {
      await new Promise<void>((r) => this.#room.push(r))
    }
    if (this.#broken !== undefined) throw this.#broken
    const id = toHex(messageId)
    if (this.#waiting.has(id)) throw new PeerProtocolError('session', 'this message is already in flight')
    const answered = new Promise<Ack>((resolve, reject) => this.#waiting.set(id, { resolve, reject }))
    const frame = encodeEnvelope({ messageId, ciphertext })
    // Frames go out one after another, in the order deliver() was called.
    this.#writes = this.#writes.then(() => (this.#broken ? undefined : this.#lp.write(frame, { signal })))
    this.#writes.catch((e: unknown) => this.#fail(e instanceof Error ? e : new Error(String(e))))
    const onAbort = () => this.#settle(id)?.reject(signal.reason as Error)
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      return await answered
    } finally {
      signal.removeEventListener('abort', onAbort)
    }
  }

  close(): void {
    this.#fail(new PeerProtocolError('session', 'closed'))
  }

  #settle(id: string): Waiting | undefined {
    const w = this.#waiting.get(id)
    this.#waiting.delete(id)
    this.#room.shift()?.()
    if (w !== undefined) queueMicrotask(() => this.#closeIfIdle())
    return w
  }

  async #read(): Promise<void> {
    try {
      for (;;) {
        const ack = decodeAck((await this.#lp.read()).subarray())
        this.#settle(toHex(ack.messageId))?.resolve(ack)
      }
    } catch (e) {
      this.#fail(e instanceof Error ? e : new Error(String(e)))
    }
  }

  #fail(e: Error): void {
    if (this.#broken !== undefined) return
    this.#broken = e
    for (const w of this.#waiting.values()) w.reject(e)
    this.#waiting.clear()
    for (const wake of this.#room.splice(0)) wake()
    this.#stream.abort(e)
  }
}

/** The sender's half: a session stream per peer, opened on first use and again after it broke or was retired. */
export class SessionStreams {
  readonly #streams = new Map<string, Promise<Outbound>>()
  readonly #locate: ((peer: PeerId, stream: Stream) => Connection | undefined) | undefined

  readonly #hasDirect: ((peer: PeerId) => boolean) | undefined

  /**
   * `locate` finds the connection a new stream runs on (for deliverVia's kind); `hasDirect` says whether a direct
   * connection to the peer is open.
   */
  constructor(
    locate?: (peer: PeerId, stream: Stream) => Connection | undefined,
    hasDirect?: (peer: PeerId) => boolean
  ) {
    this.#locate = locate
    this.#hasDirect = hasDirect
  }

  /**
   * Sends one frame and waits for its Ack. `open` opens a new session stream to the peer (dialling it if need be)
   * when none is open; its failure is thrown as it is (the caller may deposit instead), as is a stream breaking.
   */
  async deliver(
    peer: PeerId,
    messageId: Uint8Array,
    ciphertext: Uint8Array,
    signal: AbortSignal,
    open: () => Promise<Stream>
  ): Promise<Ack> {
    return (await this.deliverVia(peer, messageId, ciphertext, signal, open)).ack
  }

  /** deliver(), also saying which kind of connection carried the frame (undefined when it could not be told). */
  async deliverVia(
    peer: PeerId,
    messageId: Uint8Array,
    ciphertext: Uint8Array,
    signal: AbortSignal,
    open: () => Promise<Stream>
  ): Promise<{ ack: Ack; kind: ConnectionKind | undefined }> {
    const outbound = await this.#outbound(peer, open)
    return { ack: await outbound.deliver(messageId, ciphertext, signal), kind: outbound.kind }
  }

  /**
   * Retires the peer's open session stream when `onConnection(stream)` says it runs where it should not (a relayed
   * connection, once a direct one is open): the next frame opens a new stream. True when one was retired.
   */
  async retire(peer: PeerId, onConnection: (stream: Stream) => boolean): Promise<boolean> {
    const key = peer.toString()
    const existing = this.#streams.get(key)
    if (existing === undefined) return false
    // Still opening: check once it is open (the direct connection may have opened in the meantime).
    const o = await existing.catch(() => undefined)
    if (o === undefined || o.broken || !onConnection(o.stream)) return false
    if (this.#streams.get(key) === existing) this.#streams.delete(key)
    o.retire()
    return true
  }

  /** Whether a session stream to the peer is open now. */
  has(peer: PeerId): boolean {
    return this.#streams.has(peer.toString())
  }

  closeAll(): void {
    for (const s of this.#streams.values()) void s.then((o) => o.close()).catch(() => {})
    this.#streams.clear()
  }

  async #outbound(peer: PeerId, open: () => Promise<Stream>): Promise<Outbound> {
    const key = peer.toString()
    const existing = this.#streams.get(key)
    if (existing !== undefined) {
      const o = await existing.catch(() => undefined)
      if (o !== undefined && !o.broken) return o
      if (this.#streams.get(key) === existing) this.#streams.delete(key)
    }
    const opening = open().then((stream) => {
      const connection = this.#locate?.(peer, stream)
      const o = new Outbound(
        stream,
        () => {
          if (this.#streams.get(key) === opening) this.#streams.delete(key)
        },
        connection === undefined ? undefined : connectionKind(connection)
      )
      // Opened on a relayed connection although a direct one is open (a new stream on the direct one failed, or it
      // opened meanwhile, after retire() looked): this frame goes here, the next opens a new stream — direct then.
      // Kept, this stream would carry the chat over the relay for as long as it lives (nothing else retires it).
      if (o.kind === 'relayed' && this.#hasDirect?.(peer) === true) {
        if (this.#streams.get(key) === opening) this.#streams.delete(key)
        o.retireAfterUse()
      }
      return o
    })
    this.#streams.set(key, opening)
    opening.catch(() => {
      if (this.#streams.get(key) === opening) this.#streams.delete(key)
    })
    return opening
  }
}
