/**
 * One end of a simulated connection: what it sends reaches the far end (in this thread, or across a MessagePort)
 * when the network model says; a close travels behind the last bytes; a reset or a cut kills both ends at once.
 */
import type { AbortOptions, ComponentLogger } from '@libp2p/interface'
import { ConnectionFailedError, StreamResetError } from '@libp2p/interface'
import { AbstractMultiaddrConnection, type SendResult } from '@libp2p/utils'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Uint8ArrayList } from 'uint8arraylist'
import type { Fabric } from './transport.ts'

/** The far end of a connection as the near end sees it: where its bytes, its close and its reset go. */
export interface FarEnd {
  data(bytes: Uint8ArrayList): void
  close(): void
  reset(): void
}

type Queued = { at: number; data: Uint8ArrayList | undefined }

/**
 * One end of a connection, shaped: what this end sends reaches the far end when the model says. Each node's end is
 * tracked under its own index, so a crash cuts the crashed node's ends, which reset the far ends.
 */
export class ShapedConnection extends AbstractMultiaddrConnection {
  readonly local: number
  readonly remote: number
  readonly #fabric: Fabric
  readonly #queue: Queued[] = []
  #far: FarEnd | undefined
  #timer: ReturnType<typeof setTimeout> | undefined
  #drained: (() => void) | undefined
  #dead = false

  constructor(
    fabric: Fabric,
    local: number,
    remote: number,
    init: { remoteAddr: Multiaddr; direction: 'inbound' | 'outbound'; log: ComponentLogger }
  ) {
    super({
      remoteAddr: init.remoteAddr,
      direction: init.direction,
      log: init.log.forComponent('parley:sim:conn')
    })
    this.#fabric = fabric
    this.local = local
    this.remote = remote
    fabric.track(this)
    this.addEventListener('close', () => {
      this.#dead = true
      fabric.untrack(this)
    })
  }

  /** Joins this end to its far end (before any byte is sent). */
  attach(far: FarEnd): void {
    this.#far = far
  }

  /** Bytes from the far end. */
  receive(bytes: Uint8ArrayList | Uint8Array): void {
    if (!this.#dead) this.onData(bytes)
  }

  /** The far end closed (after its last bytes arrived). */
  remoteClosed(): void {
    if (!this.#dead) this.onTransportClosed()
  }

  /** The far end reset the connection (or was cut). */
  remoteReset(): void {
    if (this.#dead) return
    this.#dead = true
    this.#drop()
    this.abort(new StreamResetError('the remote end reset the connection'))
  }

  sendData(data: Uint8ArrayList): SendResult {
    const now = Date.now()
    const last = this.#queue.at(-1)?.at ?? 0
    // A TCP connection delivers in order: nothing overtakes the chunk before it.
    const at = Math.max(last, this.#fabric.schedule(this.local, this.remote, data.byteLength, now))
    this.#push({ at, data })
    return { sentBytes: data.byteLength, canSendMore: true }
  }

  #push(q: Queued): void {
    this.#queue.push(q)
    if (this.#queue.length === 1) this.#arm(q.at - Date.now())
  }

  #arm(ms: number): void {
    this.#timer = setTimeout(() => this.#flush(), Math.max(0, ms))
  }

  #flush(): void {
    this.#timer = undefined
    const now = Date.now()
    // Everything due goes over in one buffer (one read on the other side, not one per yamux frame).
    let due = 0
    while (due < this.#queue.length && this.#queue[due]!.at <= now) due++
    const chunks = this.#queue.splice(0, due)
    let out: Uint8ArrayList | undefined
    let close = false
    for (const c of chunks) {
      if (c.data === undefined) {
        close = true
        break
      }
      if (out === undefined) out = c.data
      else out.append(c.data)
    }
    if (out !== undefined && out.byteLength > 0) this.#far?.data(out)
    if (close) {
      this.#queue.length = 0
      this.#far?.close()
    }
    const head = this.#queue[0]
    if (head !== undefined) this.#arm(head.at - now)
    else this.#drained?.()
  }

  sendReset(): void {
    this.#drop()
    if (!this.#dead) {
      this.#dead = true
      this.#far?.reset()
    }
  }

  async sendClose(options?: AbortOptions): Promise<void> {
    // The close travels behind the last bytes, as a FIN does.
    const now = Date.now()
    this.#push({
      at: Math.max(this.#queue.at(-1)?.at ?? 0, now + this.#fabric.links.latency(this.local, this.remote)),
      data: undefined
    })
    if (this.#queue.length > 0) await new Promise<void>((resolve) => (this.#drained = resolve))
    options?.signal?.throwIfAborted()
  }

  sendPause(): void {
    // no read backpressure (as @libp2p/memory)
  }

  sendResume(): void {}

  #drop(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#queue.length = 0
    this.#drained?.()
  }

  /** Cut by a crash or a partition: in-flight chunks are lost, both ends see a reset. False if it was already dead. */
  cut(): boolean {
    if (this.#dead) return false
    this.#dead = true
    this.#drop()
    this.#fabric.untrack(this)
    this.#far?.reset()
    this.abort(new ConnectionFailedError('link cut by the simulated network'))
    return true
  }
}

/** Joins two ends in this thread. */
export function pair(a: ShapedConnection, b: ShapedConnection): void {
  a.attach({ data: (x) => b.receive(x), close: () => b.remoteClosed(), reset: () => b.remoteReset() })
  b.attach({ data: (x) => a.receive(x), close: () => a.remoteClosed(), reset: () => a.remoteReset() })
}
