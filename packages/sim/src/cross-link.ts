/**
 * Connections between worker threads: node i runs in worker i mod K, and a connection whose ends live in two workers
 * crosses a MessagePort between them (one port per pair of workers, connections told apart by id). Each end is the
 * same ShapedConnection as in one thread — the sender shapes (latency, jitter, loss, bandwidth), the port only carries
 * bytes, closes and resets — so libp2p runs Noise and Yamux on both ends as it does between two machines.
 */

import type { MessagePort } from 'node:worker_threads'
import type { ComponentLogger, PeerId } from '@libp2p/interface'
import { ConnectionFailedError } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Uint8ArrayList } from 'uint8arraylist'
import { type CrossLink, type Fabric, type FarEnd, outgoingAddr, ShapedConnection } from './transport.ts'

/** What crosses a port between two workers. */
export type LinkMessage =
  | { t: 'open'; id: number; from: number; to: number; peer: string }
  | { t: 'accept'; id: number }
  | { t: 'refuse'; id: number }
  | { t: 'data'; id: number; b: Uint8Array }
  | { t: 'close'; id: number }
  | { t: 'reset'; id: number }

/** Worker `self` of `workers`: which thread runs node `index`. */
export const workerOf = (index: number, workers: number): number => index % workers

export class PortCrossLink implements CrossLink {
  readonly #fabric: Fabric
  readonly #self: number
  readonly #workers: number
  readonly #ports: Map<number, MessagePort>
  readonly #log: ComponentLogger
  readonly #ends = new Map<number, ShapedConnection>()
  readonly #pending = new Map<number, { resolve: () => void; reject: (e: Error) => void }>()
  #next = 0

  constructor(fabric: Fabric, self: number, workers: number, ports: Map<number, MessagePort>, log: ComponentLogger) {
    this.#fabric = fabric
    this.#self = self
    this.#workers = workers
    this.#ports = ports
    this.#log = log
    for (const port of ports.values()) {
      port.on('message', (m: LinkMessage) => this.#onMessage(port, m))
    }
    fabric.cross = this
  }

  isLocal(index: number): boolean {
    return workerOf(index, this.#workers) === this.#self
  }

  /** Connection ends open across ports now. */
  get openEnds(): number {
    return this.#ends.size
  }

  open(near: ShapedConnection, from: number, to: number, dialer: PeerId, signal: AbortSignal): Promise<void> {
    const port = this.#ports.get(workerOf(to, this.#workers))
    if (port === undefined) return Promise.reject(new ConnectionFailedError(`no worker runs node ${to}`))
    // Ids are unique across workers: each worker numbers its own dials, in its own residue class mod K.
    const id = this.#next++ * this.#workers + this.#self
    this.#bind(near, port, id)
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        this.#pending.delete(id)
        reject(signal.reason as Error)
      }
      signal.addEventListener('abort', onAbort, { once: true })
      this.#pending.set(id, {
        resolve: () => {
          signal.removeEventListener('abort', onAbort)
          resolve()
        },
        reject: (e) => {
          signal.removeEventListener('abort', onAbort)
          reject(e)
        }
      })
      port.postMessage({ t: 'open', id, from, to, peer: dialer.toString() } satisfies LinkMessage)
    })
  }

  #bind(end: ShapedConnection, port: MessagePort, id: number): void {
    this.#ends.set(id, end)
    end.addEventListener('close', () => this.#ends.delete(id))
    end.attach(farEnd(port, id))
  }

  #onMessage(port: MessagePort, m: LinkMessage): void {
    switch (m.t) {
      case 'open': {
        const listener = this.#fabric.listenerOf(m.to)
        if (listener === undefined || !this.#fabric.reachable(m.from, m.to)) {
          port.postMessage({ t: 'refuse', id: m.id } satisfies LinkMessage)
          return
        }
        const far = new ShapedConnection(this.#fabric, m.to, m.from, {
          remoteAddr: outgoingAddr(this.#fabric, m.from, peerIdFromString(m.peer)),
          direction: 'inbound',
          log: this.#log
        })
        this.#bind(far, port, m.id)
        port.postMessage({ t: 'accept', id: m.id } satisfies LinkMessage)
        listener.accept(far)
        return
      }
      case 'accept':
        this.#pending.get(m.id)?.resolve()
        this.#pending.delete(m.id)
        return
      case 'refuse':
        this.#pending.get(m.id)?.reject(new ConnectionFailedError('nobody listens there in the simulated network'))
        this.#pending.delete(m.id)
        return
      case 'data':
        this.#ends.get(m.id)?.receive(m.b)
        return
      case 'close':
        this.#ends.get(m.id)?.remoteClosed()
        return
      case 'reset':
        this.#ends.get(m.id)?.remoteReset()
        this.#ends.delete(m.id)
        return
    }
  }
}

/** The far end of connection `id` behind `port`: bytes are copied into a fresh buffer and transferred. */
function farEnd(port: MessagePort, id: number): FarEnd {
  return {
    data(bytes: Uint8ArrayList) {
      const b = new Uint8Array(bytes.byteLength)
      let o = 0
      for (const c of bytes) {
        b.set(c, o)
        o += c.byteLength
      }
      port.postMessage({ t: 'data', id, b } satisfies LinkMessage, [b.buffer])
    },
    close() {
      port.postMessage({ t: 'close', id } satisfies LinkMessage)
    },
    reset() {
      port.postMessage({ t: 'reset', id } satisfies LinkMessage)
    }
  }
}
