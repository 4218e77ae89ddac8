/**
 * Measurement probes on a node's kad-dht service: they pass every query event through unchanged and record what a
 * researcher needs (hops to the answer, puts completed). The protocol logic is the node's own; a probe only watches.
 */
import type { KadDHT, QueryEvent } from '@libp2p/kad-dht'

/** What the probes saw on one node. */
export interface DhtProbe {
  /** Completed puts (our record published). */
  puts: number
  /** Puts that threw (timed out, aborted): the messenger retries them later. */
  putFailures: number
  /** Hops of the last lookup of each key (hex): hop 1 = a peer from our own table; undefined = no answer. */
  readonly hops: Map<string, number | undefined>
}

const hexOf = (key: Uint8Array): string => Buffer.from(key).toString('hex')

/**
 * Hop count of a lookup, from its events: a peer asked without being named by anyone is one hop away; a peer first
 * named in the answer of a peer h hops away is h + 1 hops away. The lookup's hops are those of the nearest peer that
 * answered with a record (0 when our own store had it).
 */
export class HopCounter {
  readonly #hops = new Map<string, number>()
  best: number | undefined

  see(e: QueryEvent): void {
    if (e.name === 'SEND_QUERY') {
      const to = e.to.toString()
      if (!this.#hops.has(to)) this.#hops.set(to, 1)
    } else if (e.name === 'PEER_RESPONSE') {
      const from = this.#hops.get(e.from.toString()) ?? 1
      for (const c of e.closer) {
        const id = c.id.toString()
        if (!this.#hops.has(id)) this.#hops.set(id, from + 1)
      }
      if (e.record !== undefined) this.#answer(from)
    } else if (e.name === 'VALUE') {
      this.#answer(this.#hops.get(e.from.toString()) ?? 0)
    }
  }

  #answer(h: number): void {
    if (this.best === undefined || h < this.best) this.best = h
  }
}

/**
 * Wraps `dht.get` and `dht.put` of one node with probes (call once, before the node starts). With `place` (converged
 * start, converged.ts) a put stores the record where the simulator's placement says instead of walking the DHT.
 */
export function probeDht(dht: KadDHT, place?: (key: Uint8Array, value: Uint8Array) => Promise<void>): DhtProbe {
  const probe: DhtProbe = { puts: 0, putFailures: 0, hops: new Map() }
  const get = dht.get.bind(dht)
  const put = dht.put.bind(dht)
  dht.get = async function* (key, options) {
    const counter = new HopCounter()
    const id = hexOf(key)
    try {
      for await (const e of get(key, options)) {
        counter.see(e)
        yield e
      }
    } finally {
      probe.hops.set(id, counter.best)
    }
  }
  dht.put = async function* (key, value, options) {
    try {
      if (place !== undefined) await place(key, value)
      else for await (const e of put(key, value, options)) yield e
    } catch (e) {
      probe.putFailures++
      throw e
    }
    probe.puts++
  }
  return probe
}
