/**
 * The network model: per-link latency drawn once per pair of nodes from a distribution, per-chunk jitter, loss, a
 * per-node uplink bandwidth, and partitions. Streams are reliable (libp2p runs Noise over them: one missing byte
 * would kill the connection), so loss behaves as on TCP: a lost chunk arrives one retransmission timeout later
 * (RTO = max(MIN_RETRANSMIT_MS, 2·RTT), doubling on each further loss) and holds back everything behind it.
 */
import { MAX_RETRANSMITS, MIN_RETRANSMIT_MS } from './constants.ts'
import { Rng } from './rng.ts'

/** How one-way link latency is distributed across pairs of nodes (ms). */
export type LatencyDistribution =
  | { kind: 'constant'; ms: number }
  | { kind: 'uniform'; min: number; max: number }
  /** Log-normal around `median` with shape `sigma` (internet RTTs are roughly log-normal). */
  | { kind: 'lognormal'; median: number; sigma: number }

/** The link model of a run. */
export interface LinkModel {
  latency: LatencyDistribution
  /** Each chunk gets an extra uniform [0, jitterMs) delay (order is kept, as on a TCP connection). */
  jitterMs: number
  /** Probability that a chunk is lost once (then retransmitted after an RTO); 0 ≤ loss < 1. */
  loss: number
  /** Uplink of every node in bytes per second (0: unlimited). */
  bandwidthBps: number
}

export const DEFAULT_LINK_MODEL: Readonly<LinkModel> = Object.freeze({
  latency: { kind: 'lognormal', median: 20, sigma: 0.5 } as LatencyDistribution,
  jitterMs: 5,
  loss: 0,
  bandwidthBps: 0
})

/** Draws one value from the distribution. */
export function drawLatency(d: LatencyDistribution, rng: Rng): number {
  switch (d.kind) {
    case 'constant':
      return d.ms
    case 'uniform':
      return rng.uniform(d.min, d.max)
    case 'lognormal':
      return d.median * Math.exp(d.sigma * rng.normal())
  }
}

/** Link latencies, drawn once per unordered pair from the seed (independent of the order links are first used). */
export class LinkTable {
  readonly #seed: string
  readonly #model: LinkModel
  readonly #cache = new Map<number, number>()

  constructor(seed: string, model: LinkModel) {
    this.#seed = seed
    this.#model = model
  }

  /** One-way latency between nodes a and b (ms); symmetric. */
  latency(a: number, b: number): number {
    const lo = Math.min(a, b)
    const hi = Math.max(a, b)
    const key = lo * 1_048_576 + hi
    let ms = this.#cache.get(key)
    if (ms === undefined) {
      ms = Math.max(0, drawLatency(this.#model.latency, new Rng(this.#seed, `link/${lo}-${hi}`)))
      this.#cache.set(key, ms)
    }
    return ms
  }

  /**
   * Delay of one chunk of `bytes` on the link a→b, not counting the uplink queue: latency, jitter, and the
   * retransmission timeouts of the times it was lost. `retransmits` says how many.
   */
  chunkDelay(a: number, b: number, rng: Rng): { ms: number; retransmits: number } {
    const base = this.latency(a, b)
    let ms = base + (this.#model.jitterMs > 0 ? rng.uniform(0, this.#model.jitterMs) : 0)
    let retransmits = 0
    let rto = Math.max(MIN_RETRANSMIT_MS, 4 * base)
    while (this.#model.loss > 0 && retransmits < MAX_RETRANSMITS && rng.chance(this.#model.loss)) {
      ms += rto
      rto *= 2
      retransmits++
    }
    return { ms, retransmits }
  }
}
