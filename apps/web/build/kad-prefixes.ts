/**
 * The browser build's replacement for kad-dht's `routing-table/generated-prefix-list` lookup (build/slim.ts rewrites
 * kad-dht's refresh.js to call {@link keyPrefixInBucket}).
 *
 * To refresh bucket T, kad-dht's routing-table refresh builds a 16-bit Kademlia prefix that shares exactly T leading
 * bits with our own id (bits after T + 1 random) and turns it into a key: the sha2-256 multihash
 * `0x12 0x20 n(u32 BE) 0^28`, with `n` looked up in a generated table of the smallest `n` whose key hashes (SHA-256) to
 * each prefix. Node gets all 65,536 entries (479 KB of source); the browser build gets 16,384 of them (120 KB, 28 KB
 * gzip: most of kad-dht's weight in the app), every fourth entry indexed as if it were the full table, so in a browser
 * the refresh asked for keys outside the bucket it meant to fill. Here `n` is found by hashing keys from a random
 * start until one's id matches the first T + 1 bits of the prefix: a uniformly random key of bucket T, 2^(T+1) hashes
 * on average (2 for the first refresh of an empty table, about 1 ms at T = 10, 65,536 at the most: T ≤ 15).
 */

/** The bits of a Kademlia prefix the refresh asks for (kad-dht: common prefix lengths 0..15, plus the toggled bit). */
export const KAD_PREFIX_BITS = 16
/** Keys tried before giving up: matching 16 bits takes 65,536 on average; 2^24 fails with probability e^-256. */
export const KAD_PREFIX_SEARCH_LIMIT = 1 << 24

const K = Int32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
])
const W = new Int32Array(64)
const rotr = (x: number, r: number) => (x >>> r) | (x << (32 - r))

/** The first 16 bits of SHA-256 over the 34-byte key `0x12 0x20 n(u32 BE) 0^28` (one padded block). */
export function kadPrefixOfKey(n: number): number {
  W.fill(0, 0, 16)
  W[0] = 0x12200000 | (n >>> 16)
  W[1] = (n & 0xffff) << 16
  W[8] = 0x00008000 // the 0x80 padding byte at offset 34
  W[15] = 34 * 8 // message length in bits
  for (let i = 16; i < 64; i++) {
    const a = W[i - 15]!
    const b = W[i - 2]!
    const s0 = rotr(a, 7) ^ rotr(a, 18) ^ (a >>> 3)
    const s1 = rotr(b, 17) ^ rotr(b, 19) ^ (b >>> 10)
    W[i] = (W[i - 16]! + s0 + W[i - 7]! + s1) | 0
  }
  let a = 0x6a09e667
  let b = 0xbb67ae85
  let c = 0x3c6ef372
  let d = 0xa54ff53a
  let e = 0x510e527f
  let f = 0x9b05688c
  let g = 0x1f83d9ab
  let h = 0x5be0cd19
  for (let i = 0; i < 64; i++) {
    const t1 = (h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i]! + W[i]!) | 0
    const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) | 0
    h = g
    g = f
    f = e
    e = (d + t1) | 0
    d = c
    c = b
    b = a
    a = (t1 + t2) | 0
  }
  return ((0x6a09e667 + a) >>> 16) & 0xffff
}

/**
 * A key prefix `n` (a u32) whose key's Kademlia id starts with the first `bits` bits of the 16-bit `kadPrefix`,
 * searched from a random start (`start`, for tests).
 */
export function keyPrefixInBucket(
  kadPrefix: number,
  bits: number,
  start = crypto.getRandomValues(new Uint32Array(1))[0]!
): number {
  if (!Number.isInteger(bits) || bits < 1 || bits > KAD_PREFIX_BITS) throw new RangeError(`bits ${bits} not in 1..16`)
  const shift = KAD_PREFIX_BITS - bits
  const want = (kadPrefix & 0xffff) >>> shift
  for (let i = 0, n = start >>> 0; i < KAD_PREFIX_SEARCH_LIMIT; i++, n = (n + 1) >>> 0) {
    if (kadPrefixOfKey(n) >>> shift === want) return n
  }
  throw new RangeError(`no key within ${KAD_PREFIX_SEARCH_LIMIT} tries for Kademlia prefix ${kadPrefix}/${bits}`)
}
