/**
 * The one source of randomness of a run: a seeded PRNG (sfc32, seeded through splitmix32 from the seed string's
 * FNV-1a hash). Independent streams are forked by label (`rng.fork('churn')`), so adding draws to one stream never
 * shifts another: the topology stays the same when the traffic model changes. Never Math.random.
 */

function fnv1a(text: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h >>> 0
}

function splitmix32(state: number): () => number {
  let s = state >>> 0
  return () => {
    s = (s + 0x9e3779b9) >>> 0
    let z = s
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
    return (z ^ (z >>> 16)) >>> 0
  }
}

/** A seeded pseudo-random stream. */
export class Rng {
  readonly label: string
  #a: number
  #b: number
  #c: number
  #d: number

  constructor(seed: string, label = '') {
    this.label = label
    const mix = splitmix32(fnv1a(`${seed}\u0000${label}`))
    this.#a = mix()
    this.#b = mix()
    this.#c = mix()
    this.#d = mix()
    this.#seed = seed
    for (let i = 0; i < 12; i++) this.nextU32()
  }

  readonly #seed: string

  /** An independent stream for one purpose (same seed and label → same stream). */
  fork(label: string): Rng {
    return new Rng(this.#seed, this.label === '' ? label : `${this.label}/${label}`)
  }

  /** A uniform 32-bit unsigned integer. */
  nextU32(): number {
    const t = (((this.#a + this.#b) >>> 0) + this.#d) >>> 0
    this.#d = (this.#d + 1) >>> 0
    this.#a = this.#b ^ (this.#b >>> 9)
    this.#b = (this.#c + (this.#c << 3)) >>> 0
    this.#c = ((this.#c << 21) | (this.#c >>> 11)) >>> 0
    this.#c = (this.#c + t) >>> 0
    return t
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextU32() / 4294967296
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n)
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next()
  }

  /** Standard normal (Box–Muller). */
  normal(): number {
    const u = 1 - this.next()
    const v = this.next()
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
  }

  /** Exponential with the given mean. */
  exponential(mean: number): number {
    return -Math.log(1 - this.next()) * mean
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p
  }

  /** `count` distinct indices from [0, n) (partial Fisher–Yates). */
  sample(n: number, count: number): number[] {
    const k = Math.min(count, n)
    const pool = Array.from({ length: n }, (_, i) => i)
    for (let i = 0; i < k; i++) {
      const j = i + this.int(n - i)
      ;[pool[i], pool[j]] = [pool[j]!, pool[i]!]
    }
    return pool.slice(0, k)
  }

  /** `length` random bytes (for seeding keys). */
  bytes(length: number): Uint8Array {
    const out = new Uint8Array(length)
    for (let i = 0; i < length; i += 4) {
      const x = this.nextU32()
      for (let j = 0; j < 4 && i + j < length; j++) out[i + j] = (x >>> (8 * j)) & 0xff
    }
    return out
  }
}
