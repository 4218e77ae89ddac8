/**
 * SFrame (RFC 9605) with the cipher suite AES_128_GCM_SHA256_128: the header codec (section 4.3), the key and salt
 * derivation from a base key (4.4.2), the nonce from the counter (4.4.3), and frame encryption with the header and
 * the caller's metadata as associated data (4.4.4). AES-GCM is WebCrypto's (browsers, workers and Node alike); HKDF
 * is @noble/hashes. Checked against the RFC's test vectors (test/vectors/).
 */
import { expand, extract } from '@noble/hashes/hkdf.js'
import { sha256 } from '@noble/hashes/sha2.js'
import {
  MAX_SFRAME_COUNTER,
  MAX_SFRAME_FRAME_BYTES,
  SFRAME_CIPHER_SUITE,
  SFRAME_KEY_BYTES,
  SFRAME_NONCE_BYTES,
  SFRAME_REPLAY_WINDOW,
  SFRAME_TAG_BYTES
} from './constants.ts'
import {
  InvalidParameterError,
  InvalidStateError,
  SframeDecryptError,
  SframeDuplicateError,
  SframeHeaderError,
  SframeReplayError,
  SframeUnknownKeyError
} from './errors.ts'

const MAX_U64 = (1n << 64n) - 1n

/** The minimal big-endian bytes of `v` (at least one). */
function minimalBytes(v: bigint): Uint8Array {
  const out: number[] = []
  do {
    out.unshift(Number(v & 0xffn))
    v >>= 8n
  } while (v > 0n)
  return new Uint8Array(out)
}

/** An SFrame header (RFC 9605 section 4.3): a config byte, then the long key id and counter if they need bytes. */
export function encodeHeader(kid: bigint, ctr: bigint): Uint8Array {
  if (kid < 0n || kid > MAX_U64) throw new InvalidParameterError('kid', '0..2^64-1')
  if (ctr < 0n || ctr > MAX_U64) throw new InvalidParameterError('ctr', '0..2^64-1')
  const kidBytes = kid < 8n ? new Uint8Array(0) : minimalBytes(kid)
  const ctrBytes = ctr < 8n ? new Uint8Array(0) : minimalBytes(ctr)
  const x = kid < 8n ? Number(kid) << 4 : 0x80 | ((kidBytes.length - 1) << 4)
  const y = ctr < 8n ? Number(ctr) : 0x08 | (ctrBytes.length - 1)
  const out = new Uint8Array(1 + kidBytes.length + ctrBytes.length)
  out[0] = x | y
  out.set(kidBytes, 1)
  out.set(ctrBytes, 1 + kidBytes.length)
  return out
}

/** Parses the header at the start of `frame`: its key id, counter and length. */
export function decodeHeader(frame: Uint8Array): { kid: bigint; ctr: bigint; length: number } {
  if (frame.length < 1) throw new SframeHeaderError('empty')
  const config = frame[0]!
  let o = 1
  const read = (n: number): bigint => {
    if (o + n > frame.length) throw new SframeHeaderError('truncated')
    let v = 0n
    for (let i = 0; i < n; i++) v = (v << 8n) | BigInt(frame[o + i]!)
    o += n
    return v
  }
  const kid = config & 0x80 ? read(((config >> 4) & 0x07) + 1) : BigInt((config >> 4) & 0x07)
  const ctr = config & 0x08 ? read((config & 0x07) + 1) : BigInt(config & 0x07)
  return { kid, ctr, length: o }
}

const enc = new TextEncoder()

function label(prefix: string, kid: bigint): Uint8Array {
  const p = enc.encode(prefix)
  const out = new Uint8Array(p.length + 10)
  out.set(p)
  const dv = new DataView(out.buffer)
  dv.setBigUint64(p.length, kid)
  dv.setUint16(p.length + 8, SFRAME_CIPHER_SUITE)
  return out
}

/** The key and salt of `kid` under `baseKey` (RFC 9605 section 4.4.2). */
export function deriveKeyAndSalt(baseKey: Uint8Array, kid: bigint): { key: Uint8Array; salt: Uint8Array } {
  if (!(baseKey instanceof Uint8Array) || baseKey.length < SFRAME_KEY_BYTES) {
    throw new InvalidParameterError('baseKey', `at least ${SFRAME_KEY_BYTES} bytes`)
  }
  const secret = extract(sha256, baseKey, new Uint8Array(0))
  return {
    key: expand(sha256, secret, label('SFrame 1.0 Secret key ', kid), SFRAME_KEY_BYTES),
    salt: expand(sha256, secret, label('SFrame 1.0 Secret salt ', kid), SFRAME_NONCE_BYTES)
  }
}

/** The nonce of counter `ctr`: the salt XOR the counter, big-endian in the nonce's last bytes. */
export function nonceFor(salt: Uint8Array, ctr: bigint): Uint8Array {
  const nonce = salt.slice()
  let c = ctr
  for (let i = nonce.length - 1; i >= 0 && c > 0n; i--) {
    nonce[i]! ^= Number(c & 0xffn)
    c >>= 8n
  }
  return nonce
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length)
  out.set(a)
  out.set(b, a.length)
  return out
}

/** One key ready for use: its id, salt and the imported AES-GCM key. */
export interface SframeKey {
  readonly kid: bigint
  readonly salt: Uint8Array
  readonly key: CryptoKey
}

/** Derives and imports the key of `kid` (non-extractable). */
export async function importSframeKey(baseKey: Uint8Array, kid: bigint): Promise<SframeKey> {
  const { key, salt } = deriveKeyAndSalt(baseKey, kid)
  const cryptoKey = await crypto.subtle.importKey('raw', key as Uint8Array<ArrayBuffer>, 'AES-GCM', false, [
    'encrypt',
    'decrypt'
  ])
  key.fill(0)
  return { kid, salt, key: cryptoKey }
}

/** Encrypts one frame at counter `ctr`: header ‖ AES-GCM(plaintext) with AD header ‖ metadata. */
export async function sframeEncrypt(
  k: SframeKey,
  ctr: bigint,
  plaintext: Uint8Array,
  metadata: Uint8Array = new Uint8Array(0)
): Promise<Uint8Array> {
  if (plaintext.length > MAX_SFRAME_FRAME_BYTES)
    throw new InvalidParameterError('frame', `≤ ${MAX_SFRAME_FRAME_BYTES} bytes`)
  const header = encodeHeader(k.kid, ctr)
  const ct = await crypto.subtle.encrypt(
    {
      name: 'AES-GCM',
      iv: nonceFor(k.salt, ctr) as Uint8Array<ArrayBuffer>,
      additionalData: concat(header, metadata) as Uint8Array<ArrayBuffer>,
      tagLength: SFRAME_TAG_BYTES * 8
    },
    k.key,
    plaintext as Uint8Array<ArrayBuffer>
  )
  return concat(header, new Uint8Array(ct))
}

/** Opens one frame with `k` (whose kid the header must name). SframeDecryptError when the tag does not verify. */
export async function sframeDecrypt(
  k: SframeKey,
  frame: Uint8Array,
  metadata: Uint8Array = new Uint8Array(0)
): Promise<{ ctr: bigint; plaintext: Uint8Array }> {
  const h = decodeHeader(frame)
  if (h.kid !== k.kid) throw new SframeUnknownKeyError(h.kid)
  if (frame.length - h.length < SFRAME_TAG_BYTES || frame.length > MAX_SFRAME_FRAME_BYTES + 64) {
    throw new SframeDecryptError()
  }
  try {
    const pt = await crypto.subtle.decrypt(
      {
        name: 'AES-GCM',
        iv: nonceFor(k.salt, h.ctr) as Uint8Array<ArrayBuffer>,
        additionalData: concat(frame.subarray(0, h.length), metadata) as Uint8Array<ArrayBuffer>,
        tagLength: SFRAME_TAG_BYTES * 8
      },
      k.key,
      frame.subarray(h.length) as Uint8Array<ArrayBuffer>
    )
    return { ctr: h.ctr, plaintext: new Uint8Array(pt) }
  } catch {
    throw new SframeDecryptError()
  }
}

/** The sending half: one key, a counter that never repeats under it. */
export class SframeSender {
  #key: SframeKey | undefined
  #ctr = 0n

  /** Switches to a new key; its counter starts at 0 (a new key id, so no nonce repeats). */
  setKey(key: SframeKey): void {
    if (this.#key?.kid === key.kid) return
    this.#key = key
    this.#ctr = 0n
  }

  get kid(): bigint | undefined {
    return this.#key?.kid
  }

  async encrypt(plaintext: Uint8Array, metadata?: Uint8Array): Promise<Uint8Array> {
    const k = this.#key
    if (k === undefined) throw new InvalidStateError('encrypt', 'no key')
    if (this.#ctr > BigInt(MAX_SFRAME_COUNTER)) throw new InvalidStateError('encrypt', 'counter exhausted')
    const ctr = this.#ctr++
    return sframeEncrypt(k, ctr, plaintext, metadata)
  }
}

/**
 * The receiving half: the keys we accept (newest first, at most `maxKeys`) and, per key, a replay window over the
 * counters (a counter seen, or more than SFRAME_REPLAY_WINDOW behind the highest, is refused). For each counter in
 * the window we keep the tag of the frame that opened, so a byte-identical second copy (the network or the codec's
 * redundancy delivered it twice) is told apart from another frame under a counter already used
 * (SframeDuplicateError vs SframeReplayError); both are dropped.
 */
export class SframeReceiver {
  readonly #maxKeys: number
  #keys: Array<{ key: SframeKey; highest: bigint; seen: Map<bigint, Uint8Array> }> = []

  constructor(maxKeys: number) {
    this.#maxKeys = maxKeys
  }

  /** Adds a key (or keeps it if present), dropping the oldest past the bound. */
  addKey(key: SframeKey): void {
    if (this.#keys.some((k) => k.key.kid === key.kid)) return
    this.#keys = [{ key, highest: -1n, seen: new Map<bigint, Uint8Array>() }, ...this.#keys].slice(0, this.#maxKeys)
  }

  get kids(): bigint[] {
    return this.#keys.map((k) => k.key.kid)
  }

  async decrypt(frame: Uint8Array, metadata?: Uint8Array): Promise<Uint8Array> {
    const { kid, ctr } = decodeHeader(frame)
    const slot = this.#keys.find((k) => k.key.kid === kid)
    if (slot === undefined) throw new SframeUnknownKeyError(kid)
    if (ctr + BigInt(SFRAME_REPLAY_WINDOW) <= slot.highest) throw new SframeReplayError(ctr)
    const seenTag = slot.seen.get(ctr)
    if (seenTag !== undefined) {
      if (sameBytes(seenTag, frame.subarray(frame.length - SFRAME_TAG_BYTES))) throw new SframeDuplicateError(ctr)
      throw new SframeReplayError(ctr)
    }
    const { plaintext } = await sframeDecrypt(slot.key, frame, metadata)
    // Only authentic frames move the window.
    slot.seen.set(ctr, frame.slice(frame.length - SFRAME_TAG_BYTES))
    if (ctr > slot.highest) slot.highest = ctr
    if (slot.seen.size > SFRAME_REPLAY_WINDOW) {
      for (const c of slot.seen.keys()) if (c + BigInt(SFRAME_REPLAY_WINDOW) <= slot.highest) slot.seen.delete(c)
    }
    return plaintext
  }
}

/** Byte equality of two tags (public values: a copy on the wire, not a secret; no constant time needed). */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i])
}
