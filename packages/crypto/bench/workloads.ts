/**
 * Our side of the ratchet benchmark, backend-agnostic so the same workloads run in Node and in Chromium.
 * Every message goes through the session manager with a byte-keeping store: the serialised session record is
 * handed to the store after every message, as the fairness rule of the benchmark asks.
 */
import {
  type AccountState,
  type Bundle,
  type CryptoBackend,
  createAccount,
  createSessionManager,
  generateIdentity,
  generateOneTimePrekeys,
  handOutOneTimePrekeys,
  type PrekeyBundle,
  publishBundle,
  type SessionManager,
  takePrekeyBundle
} from '../src/api.ts'
import { MemoryProtocolStore } from '../src/testing.ts'

const DAY = 86_400_000
/** Minimum warm-up time per workload (ms), the same on both sides of the comparison. */
const WARMUP_MS = 1000

export interface Figures {
  encryptDecryptPerSec: number
  pingPongPerSec: number
  sessionSetupPerSec: number
  ciphertextBytes100: number
}

interface Side {
  manager: SessionManager
  address: string
  account: () => AccountState
}

async function side(backend: CryptoBackend, name: string): Promise<Side> {
  const identity = await generateIdentity(backend)
  const account = await createAccount(backend, {
    identity,
    deviceKey: new TextEncoder().encode(name),
    now: Date.now(),
    certificateLifetimeMs: 365 * DAY
  })
  return withFreshSessions(backend, account)
}

/** The same account with no sessions (a new manager over an empty store). */
function withFreshSessions(backend: CryptoBackend, account: AccountState): Side {
  const manager = createSessionManager({ backend, account, store: new MemoryProtocolStore() })
  return { manager, address: manager.address, account: () => manager.account }
}

/** Runs `op` repeatedly for `seconds` after `warmup` runs; returns operations per second. */
export async function measure(seconds: number, warmup: number, op: () => Promise<void>): Promise<number> {
  // Warm up by count AND time (the same rule as libsignal-baseline.ts): V8's optimising tiers take a while.
  const warmEnd = performance.now() + WARMUP_MS
  for (let i = 0; i < warmup || performance.now() < warmEnd; i++) await op()
  const start = performance.now()
  const end = start + seconds * 1000
  let n = 0
  let t = start
  while (t < end) {
    await op()
    n++
    if ((n & 7) === 0) t = performance.now()
  }
  return (n * 1000) / (performance.now() - start)
}

const PLAINTEXT = new Uint8Array(100).fill(0x61)

/**
 * Sets up A and B: B makes a fresh one-time X25519 and KEM prekey and hands them out with its bundle, A verifies
 * and starts, one message each way. B's bundle (signed prekey, last-resort prekey) is signed once and reused when
 * `published` is given, as libsignal's signed prekey is in its side of the benchmark.
 */
export async function establish(backend: CryptoBackend, a: Side, b: Side, published?: Bundle): Promise<void> {
  const bundle = await b.manager.updateAccount(async (state) => {
    let s = await generateOneTimePrekeys(backend, state, 'x25519', 1)
    s = await generateOneTimePrekeys(backend, s, 'kem', 1)
    if (published === undefined) {
      const t = await takePrekeyBundle(backend, s, Date.now(), 7 * DAY)
      return { state: t.state, result: t.prekeyBundle }
    }
    const x = handOutOneTimePrekeys(s, 'x25519', 1)
    const k = handOutOneTimePrekeys(x.state, 'kem', 1)
    const pb: PrekeyBundle = { bundle: published, oneTimePrekey: x.prekeys[0]!, oneTimeKemPrekey: k.prekeys[0]! }
    return { state: k.state, result: pb }
  })
  await a.manager.startSession(bundle)
  const first = await a.manager.encrypt(b.address, PLAINTEXT)
  await b.manager.decrypt(first.ciphertext, { messageId: first.messageId, address: a.address })
  const reply = await b.manager.encrypt(a.address, PLAINTEXT)
  await a.manager.decrypt(reply.ciphertext, { messageId: reply.messageId, address: b.address })
}

async function oneWay(a: Side, b: Side): Promise<void> {
  const m = await a.manager.encrypt(b.address, PLAINTEXT)
  const r = await b.manager.decrypt(m.ciphertext, { messageId: m.messageId, address: a.address })
  if (r.plaintext.length !== 100) throw new Error('benchmark: wrong plaintext')
}

/** The three workloads of the benchmark on one backend. */
export async function runOurs(backend: CryptoBackend, seconds: number): Promise<Figures> {
  const a = await side(backend, 'bench-a')
  const b = await side(backend, 'bench-b')
  await establish(backend, a, b)
  const sample = await a.manager.encrypt(b.address, PLAINTEXT)
  await b.manager.decrypt(sample.ciphertext, { messageId: sample.messageId, address: a.address })

  const encryptDecryptPerSec = await measure(seconds, 200, () => oneWay(a, b))

  let turn = 0
  const pingPongPerSec = await measure(seconds, 200, () => (turn++ & 1 ? oneWay(b, a) : oneWay(a, b)))

  // Session setup: B makes a fresh one-time X25519 and KEM prekey (inside the timed region, as for libsignal),
  // A verifies the bundle and starts, first message, B's reply, A decrypts the reply.
  // Both sides start each setup with empty session stores (as the libsignal side does), so records do not grow.
  let x = a
  let y = b
  const published = await b.manager.updateAccount(async (state) => {
    const p = await publishBundle(backend, state, Date.now(), 7 * DAY)
    return { state: p.state, result: p.bundle }
  })
  const sessionSetupPerSec = await measure(seconds, 20, async () => {
    x = withFreshSessions(backend, x.account())
    y = withFreshSessions(backend, y.account())
    await establish(backend, x, y, published)
  })
  return { encryptDecryptPerSec, pingPongPerSec, sessionSetupPerSec, ciphertextBytes100: sample.ciphertext.length }
}

export { oneWay, side as benchSide }
