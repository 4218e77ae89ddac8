/**
 * Hostile frames: random bytes, and genuine messages truncated at every length or with a byte flipped, must fail
 * with a typed error, leave the receiver's stored bytes exactly as they were, and cost a bounded number of AES-GCM
 * trials. Seeded, so a failure reproduces. Runs on the first backend of the runtime: node in Node, webcrypto in the
 * browser (with smaller counts).
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  type CryptoBackend,
  createSessionManager,
  decodeAccount,
  equalBytes,
  MAX_ARCHIVED_SESSIONS,
  MAX_HEADER_TRIALS,
  MAX_RECEIVING_CHAINS,
  MAX_TRIALS_PER_FRAME,
  ParleyCryptoError,
  type SessionManager,
  takePrekeyBundle
} from '../src/api.ts'
import { MemoryProtocolStore } from '../src/testing.ts'
import { backendsUnderTest, isNode } from './helpers/backends.ts'
import { connectedPair, DAY, deliver, messageId, type Party, send, str, TestClock } from './helpers/parties.ts'

const SEED = 42
const NODE = isNode()
/** Random frames of each type-byte kind in (a). */
const RANDOM_FRAMES_PER_KIND = NODE ? 20_000 : 2_000
/** Random ratchet frames against a record with archived sessions in (c). */
const ARCHIVED_FRAMES = NODE ? 3_000 : 1_000
/** Genuine messages in (b), each truncated at every length and flipped FLIPS times. */
const GENUINE_MESSAGES = NODE ? 120 : 16
const FLIPS = 16
/**
 * (b) asserts it fed at least this many frames: an initial message is ~1 900 bytes, a ratchet one 85 to 133, and with
 * seed 42 about two in five are initial ones (104 321 frames in Node, 16 253 in the browser). With (a) and (c), Node
 * feeds over 160 000 frames and the browser over 23 000.
 */
const GENUINE_MIN_FRAMES = NODE ? 90_000 : 12_000

/** A backend that counts AES-GCM decryptions: the header trials of a frame that opens nothing. */
interface CountingBackend extends CryptoBackend {
  decryptions: number
}

function counting(inner: CryptoBackend): CountingBackend {
  const b: CountingBackend = {
    decryptions: 0,
    name: inner.name,
    randomBytes: (length) => inner.randomBytes(length),
    sha256: (data) => inner.sha256(data),
    sha512: (data) => inner.sha512(data),
    hmacSha256: (key, data) => inner.hmacSha256(key, data),
    hmacSha512: (key, data) => inner.hmacSha512(key, data),
    hkdfSha256: (ikm, salt, info, length) => inner.hkdfSha256(ikm, salt, info, length),
    aesGcmEncrypt: (key, nonce, plaintext, aad) => inner.aesGcmEncrypt(key, nonce, plaintext, aad),
    aesGcmDecrypt: (key, nonce, ciphertext, aad) => {
      b.decryptions++
      return inner.aesGcmDecrypt(key, nonce, ciphertext, aad)
    },
    x25519KeyPair: (secretKey) => inner.x25519KeyPair(secretKey),
    x25519: (secretKey, publicKey) => inner.x25519(secretKey, publicKey),
    ed25519KeyPair: (seed) => inner.ed25519KeyPair(seed),
    ed25519Sign: (secretKey, message) => inner.ed25519Sign(secretKey, message),
    ed25519Verify: (publicKey, message, signature) => inner.ed25519Verify(publicKey, message, signature),
    mlKem1024KeyPair: (seed) => inner.mlKem1024KeyPair(seed),
    mlKem1024Encapsulate: (publicKey) => inner.mlKem1024Encapsulate(publicKey),
    mlKem1024Decapsulate: (secretKey, ciphertext) => inner.mlKem1024Decapsulate(secretKey, ciphertext)
  }
  return b
}

const backend = counting((await backendsUnderTest())[0]!)

// ---- persisted state ----

interface Saved {
  readonly records: ReadonlyMap<string, Uint8Array>
  readonly account: Uint8Array
  readonly commits: number
}

function save(store: MemoryProtocolStore): Saved {
  return {
    records: new Map([...store.records].map(([k, v]) => [k, v.slice()])),
    account: store.account!.slice(),
    commits: store.commits
  }
}

/** True when the store holds exactly the saved bytes and nothing was committed since. */
function unchanged(store: MemoryProtocolStore, saved: Saved): boolean {
  if (store.commits !== saved.commits || store.records.size !== saved.records.size) return false
  if (store.account === undefined || !equalBytes(store.account, saved.account)) return false
  for (const [k, v] of saved.records) {
    const now = store.records.get(k)
    if (now === undefined || !equalBytes(now, v)) return false
  }
  return true
}

/** A manager over a fresh store holding copies of saved bytes (a party as after a restart). */
function reopen(saved: Saved, clock: TestClock): { store: MemoryProtocolStore; manager: SessionManager } {
  const store = new MemoryProtocolStore()
  for (const [k, v] of saved.records) store.records.set(k, v.slice())
  store.account = saved.account.slice()
  return {
    store,
    manager: createSessionManager({ backend, account: decodeAccount(store.account), store, now: clock.now })
  }
}

/**
 * Drives B's current session to the most header trials a frame can cost: MAX_RECEIVING_CHAINS earlier chains with
 * skipped keys, none of them the current receiving chain, plus the current and the next header key.
 */
async function saturate(a: Party, b: Party): Promise<void> {
  for (let i = 0; i <= MAX_RECEIVING_CHAINS; i++) {
    await send(a, b, 'never delivered: its key stays skipped')
    await deliver(b, await send(a, b, 'on a new chain'))
    await deliver(a, await send(b, a, 'reply: A takes a DH step'))
  }
  await deliver(b, await send(a, b, 'a chain with nothing skipped'))
}

/** Decrypts a hostile frame at B: it must fail typed, commit nothing and cost at most `maxTrials` AES-GCM trials. */
async function hostile(a: Party, b: Party, frame: Uint8Array, id: Uint8Array, maxTrials: number): Promise<number> {
  const before = save(b.store)
  backend.decryptions = 0
  let error: unknown
  try {
    await b.manager.decrypt(frame, { messageId: id, address: a.manager.address })
  } catch (e) {
    error = e
  }
  const trials = backend.decryptions
  if (!(error instanceof ParleyCryptoError)) {
    throw new Error(
      `frame of ${frame.length} bytes (type ${frame[0]}): ${error === undefined ? 'decrypted' : `untyped ${error}`}`
    )
  }
  if (!unchanged(b.store, before)) throw new Error(`frame of ${frame.length} bytes (${error.code}) changed B's state`)
  if (trials > maxTrials) throw new Error(`frame of ${frame.length} bytes cost ${trials} trials, over ${maxTrials}`)
  return trials
}

/** A random frame: its type byte forced to a ratchet message (0x11) or an initial one (0x12), or left random. */
const randomFrame = fc
  .tuple(
    fc.constantFrom(0x11, 0x12, undefined),
    fc.uint8Array({ maxLength: 400, size: 'max' }),
    fc.uint8Array({ minLength: 16, maxLength: 16 })
  )
  .map(([type, bytes, id]) => {
    const frame = bytes.slice()
    if (type !== undefined && frame.length > 0) frame[0] = type
    return { frame, id }
  })

describe(`hostile frames (${backend.name}, seed ${SEED})`, () => {
  it(`(a, c) ${3 * RANDOM_FRAMES_PER_KIND} random frames of 0..400 bytes: typed errors, B's bytes unchanged, at most MAX_HEADER_TRIALS (${MAX_HEADER_TRIALS}) trials with only a current session`, async () => {
    const [a, b] = await connectedPair(backend)
    await saturate(a, b)
    expect((await b.manager.sessionInfo(a.manager.address))?.archived).toBe(0)
    let most = 0
    await fc.assert(
      fc.asyncProperty(randomFrame, async ({ frame, id }) => {
        most = Math.max(most, await hostile(a, b, frame, id, MAX_HEADER_TRIALS))
      }),
      { seed: SEED, numRuns: 3 * RANDOM_FRAMES_PER_KIND }
    )
    // The setup reaches the bound (next, current and MAX_RECEIVING_CHAINS earlier chains), so the bound is exercised.
    expect(most).toBe(MAX_HEADER_TRIALS)
    expect(await deliver(b, await send(a, b, 'still talking'))).toBe('still talking')
  })

  it(`(c) ${ARCHIVED_FRAMES} random ratchet frames against a current and ${MAX_ARCHIVED_SESSIONS} archived sessions: at most MAX_TRIALS_PER_FRAME (${MAX_TRIALS_PER_FRAME}) trials`, async () => {
    const [a, b] = await connectedPair(backend)
    for (let i = 0; i <= MAX_ARCHIVED_SESSIONS; i++) {
      await saturate(a, b)
      if (i < MAX_ARCHIVED_SESSIONS) {
        // A new session from B's bundle: B archives the current one when A's first message arrives.
        await a.manager.startSession(await b.bundle())
        await deliver(b, await send(a, b, 'new session'))
        await deliver(a, await send(b, a, 'acknowledged'))
      }
    }
    expect((await b.manager.sessionInfo(a.manager.address))?.archived).toBe(MAX_ARCHIVED_SESSIONS)
    const ratchetFrame = fc
      .tuple(fc.uint8Array({ minLength: 85, maxLength: 400 }), fc.uint8Array({ minLength: 16, maxLength: 16 }))
      .map(([bytes, id]) => {
        const frame = bytes.slice()
        frame[0] = 0x11
        return { frame, id }
      })
    let most = 0
    await fc.assert(
      fc.asyncProperty(ratchetFrame, async ({ frame, id }) => {
        most = Math.max(most, await hostile(a, b, frame, id, MAX_TRIALS_PER_FRAME))
      }),
      { seed: SEED, numRuns: ARCHIVED_FRAMES }
    )
    expect(most).toBe(MAX_TRIALS_PER_FRAME)
    expect(await deliver(b, await send(a, b, 'still talking'))).toBe('still talking')
  })

  it(`(b) ${GENUINE_MESSAGES} genuine messages, each truncated at every length and with ${FLIPS} single-byte flips (>= ${GENUINE_MIN_FRAMES} frames): typed errors, B's bytes unchanged, the genuine message then decrypts`, async () => {
    const clock = new TestClock()
    const [a0, b0] = await connectedPair(backend, clock)
    const base = { a: save(a0.store), b: save(b0.store) }
    let frames = 0
    const scenario = fc.record({
      // Where the message lands at B: on the chain B reads now, on a new chain (a DH step), through a skipped key,
      // as the initial message of a new session, or as a later initial message of a session B already has.
      kind: fc.constantFrom('same-chain', 'new-chain', 'skipped', 'initial', 'initial-again'),
      length: fc.integer({ min: 0, max: 48 }),
      flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: FLIPS, maxLength: FLIPS })
    })
    await fc.assert(
      fc.asyncProperty(scenario, async ({ kind, length, flips }) => {
        // Every run starts from the same connected pair, so a failure replays from its seed and path alone.
        const a: Party = { ...a0, ...reopen(base.a, clock) }
        const b: Party = { ...b0, ...reopen(base.b, clock) }
        const text = 'x'.repeat(length)
        if (kind === 'same-chain') await deliver(b, await send(a, b, 'first on this chain'))
        if (kind === 'initial' || kind === 'initial-again') {
          const bundle = await b.manager.updateAccount(async (state) => {
            const t = await takePrekeyBundle(backend, state, clock.now(), 7 * DAY)
            return { state: t.state, result: t.prekeyBundle }
          })
          await a.manager.startSession(bundle)
          if (kind === 'initial-again') await deliver(b, await send(a, b, 'first initial message'))
        }
        const target = await send(a, b, text)
        if (kind === 'skipped') {
          // The next message overtakes the target, so B keeps the target's key as a skipped key.
          const later = await send(a, b, 'overtakes the target')
          await deliver(b, later)
        }
        const ct = target.ciphertext
        for (let n = 0; n < ct.length; n++, frames++) {
          await hostile(a, b, ct.slice(0, n), target.messageId, Number.POSITIVE_INFINITY)
        }
        for (const [at, xor] of flips) {
          const flipped = ct.slice()
          const i = at % ct.length
          flipped[i] = flipped[i]! ^ xor
          await hostile(a, b, flipped, target.messageId, Number.POSITIVE_INFINITY)
          frames++
        }
        const r = await b.manager.decrypt(ct, { messageId: target.messageId, address: a.manager.address })
        expect(str(r.plaintext)).toBe(text)
        // And the conversation goes on, both ways.
        expect(await deliver(b, await send(a, b, 'next'))).toBe('next')
        expect(await deliver(a, await send(b, a, 'back'))).toBe('back')
      }),
      { seed: SEED, numRuns: GENUINE_MESSAGES }
    )
    expect(frames).toBeGreaterThanOrEqual(GENUINE_MIN_FRAMES)
  })

  it('a genuine message under another message id does not open and changes nothing', async () => {
    const [a, b] = await connectedPair(backend)
    const w = await send(a, b, 'bound to its id')
    await hostile(a, b, w.ciphertext, messageId(), Number.POSITIVE_INFINITY)
    expect(await deliver(b, w)).toBe('bound to its id')
  })
})
