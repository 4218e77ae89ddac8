/** Two-party fixtures over real backends and byte-serialising in-memory stores. */
import {
  type AccountState,
  type CryptoBackend,
  createAccount,
  createSessionManager,
  decodeAccount,
  encodeAccount,
  generateIdentity,
  generateOneTimePrekeys,
  type PrekeyBundle,
  type SessionManager,
  takePrekeyBundle
} from '../../src/api.ts'
import { MemoryProtocolStore } from '../../src/testing.ts'

export const DAY = 24 * 3600 * 1000

/** A clock tests move by hand. */
export class TestClock {
  t = Date.UTC(2026, 10, 28)
  now = (): number => this.t
  advance(ms: number): void {
    this.t += ms
  }
}

export interface Party {
  name: string
  backend: CryptoBackend
  store: MemoryProtocolStore
  manager: SessionManager
  clock: TestClock
  /** Hands out a bundle with one-time prekeys (when any are left) and commits the hand-out. */
  bundle(options?: { oneTime?: boolean }): Promise<PrekeyBundle>
  /** A new manager over the same store and account bytes, as after a restart. */
  restart(): Party
  /** An independent copy of everything persisted (a stolen or backed-up state), with its own manager and store. */
  snapshot(): Party
  /** The same account with every session lost (a reinstall that kept identity and prekeys). */
  withoutSessions(): Party
}

let deviceCounter = 0

function wrap(
  name: string,
  backend: CryptoBackend,
  store: MemoryProtocolStore,
  account: AccountState,
  clock: TestClock
): Party {
  const manager = createSessionManager({ backend, account, store, now: clock.now })
  const party: Party = {
    name,
    backend,
    store,
    manager,
    clock,
    async bundle(options = {}) {
      return manager.updateAccount(async (state) => {
        if (options.oneTime === false) {
          const { publishBundle } = await import('../../src/api.ts')
          const p = await publishBundle(backend, state, clock.now(), 7 * DAY)
          return { state: p.state, result: { bundle: p.bundle } }
        }
        const t = await takePrekeyBundle(backend, state, clock.now(), 7 * DAY)
        return { state: t.state, result: t.prekeyBundle }
      })
    },
    restart() {
      const bytes = store.account ?? encodeAccount(account)
      return wrap(name, backend, store, decodeAccount(bytes), clock)
    },
    snapshot() {
      const copy = new MemoryProtocolStore()
      for (const [k, v] of store.records) copy.records.set(k, v.slice())
      copy.account = (store.account ?? encodeAccount(account)).slice()
      return wrap(name, backend, copy, decodeAccount(copy.account), clock)
    },
    withoutSessions() {
      const empty = new MemoryProtocolStore()
      empty.account = (store.account ?? encodeAccount(account)).slice()
      return wrap(name, backend, empty, decodeAccount(empty.account), clock)
    }
  }
  return party
}

/** A party with a fresh identity, a certified device and `oneTime` one-time prekeys of each kind. */
export async function makeParty(
  name: string,
  backend: CryptoBackend,
  options: { clock?: TestClock; oneTime?: number } = {}
): Promise<Party> {
  const clock = options.clock ?? new TestClock()
  const identity = await generateIdentity(backend)
  const deviceKey = new TextEncoder().encode(`device-${name}-${++deviceCounter}`)
  let account = await createAccount(backend, {
    identity,
    deviceKey,
    now: clock.now(),
    certificateLifetimeMs: 365 * DAY
  })
  account = await generateOneTimePrekeys(backend, account, 'x25519', options.oneTime ?? 5)
  account = await generateOneTimePrekeys(backend, account, 'kem', options.oneTime ?? 5)
  const store = new MemoryProtocolStore()
  store.account = encodeAccount(account)
  return wrap(name, backend, store, account, clock)
}

let idCounter = 0
/** A fresh 16-byte message id. */
export function messageId(): Uint8Array {
  const id = new Uint8Array(16)
  new DataView(id.buffer).setUint32(12, ++idCounter)
  crypto.getRandomValues(id.subarray(0, 12))
  return id
}

const enc = new TextEncoder()
const dec = new TextDecoder()
export const utf8 = (s: string): Uint8Array => enc.encode(s)
export const str = (b: Uint8Array): string => dec.decode(b)

/** A message in flight. */
export interface Wire {
  ciphertext: Uint8Array
  messageId: Uint8Array
  from: Party
  text: string
}

/** Encrypts `text` from `from` to `to` (which must have a session). */
export async function send(from: Party, to: Party, text: string): Promise<Wire> {
  const id = messageId()
  const { ciphertext } = await from.manager.encrypt(to.manager.address, utf8(text), { messageId: id })
  return { ciphertext, messageId: id, from, text }
}

/** Delivers a message to `to`; returns the decrypted text. */
export async function deliver(to: Party, w: Wire): Promise<string> {
  const r = await to.manager.decrypt(w.ciphertext, { messageId: w.messageId, address: w.from.manager.address })
  return str(r.plaintext)
}

/** A and B with a session started by A from B's bundle (with one-time prekeys) and acknowledged by one reply. */
export async function connectedPair(backend: CryptoBackend, clock = new TestClock()): Promise<[Party, Party]> {
  const a = await makeParty('alice', backend, { clock })
  const b = await makeParty('bob', backend, { clock })
  await a.manager.startSession(await b.bundle())
  await deliver(b, await send(a, b, 'hello'))
  await deliver(a, await send(b, a, 'hi'))
  return [a, b]
}
