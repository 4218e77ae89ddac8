/**
 * Model-based chaos test of session management, after libsignal's `proptest_session_resets`: two parties with a
 * session, and random sends, deliveries (in any order), drops, duplicates, snapshots, restores from old snapshots
 * (a backup brought back: lost state), wiped sessions and archived sessions. During the chaos every decrypt must
 * either return exactly the plaintext sent or throw a typed error with an expected code, and no state lineage may
 * decrypt one ciphertext twice. Afterwards the parties talk as a messenger would, resetting on the errors that call
 * for it, and must be on one session talking both ways within MAX_EXCHANGES exchanges.
 *
 * Runs on the first backend of the runtime: node in Node, webcrypto in the browser.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  type CryptoBackend,
  createSessionManager,
  decodeAccount,
  equalBytes,
  needsSessionReset,
  ParleyCryptoError,
  type PrekeyBundle,
  type SessionManager,
  takePrekeyBundle
} from '../src/api.ts'
import { MemoryProtocolStore } from '../src/testing.ts'
import { backendsUnderTest } from './helpers/backends.ts'
import { connectedPair, DAY, messageId, str, TestClock, utf8 } from './helpers/parties.ts'

const backend: CryptoBackend = (await backendsUnderTest())[0]!
/** 10 to 20 ms a run in Node and in Chromium: well under a minute on a busy machine. */
const NUM_RUNS = 1000
const MAX_COMMANDS = 40
const MAX_EXCHANGES = 10

/** The codes a decrypt may fail with in this game; anything else (or an untyped throw) fails the property. */
const EXPECTED_CODES: ReadonlySet<string> = new Set([
  'DuplicateMessage',
  'UndecryptableHeader',
  'UndecryptableBody',
  'RatchetFork',
  'NoSession',
  'MessageGapTooLarge',
  'UnknownPrekey',
  'ReplayedInitialMessage',
  'SealedSenderFailure'
])

type Name = 'A' | 'B'
const other = (n: Name): Name => (n === 'A' ? 'B' : 'A')

/** A party's whole persisted state, copied, plus what the model knows that state has consumed. */
interface Snapshot {
  readonly records: ReadonlyMap<string, Uint8Array>
  readonly account: Uint8Array
  readonly consumed: ReadonlySet<number>
}

interface Actor {
  readonly name: Name
  readonly address: string
  store: MemoryProtocolStore
  manager: SessionManager
  /**
   * Serials this party's state lineage has decrypted. A restore resets it to the snapshot's set, so an old message
   * may decrypt again after a restore (the state that consumed it is gone) but never twice within one lineage.
   * This is the brief's "epoch" rule made exact: it also catches a restored state that decrypts a message it had
   * already consumed when the snapshot was taken.
   */
  consumed: Set<number>
  /** Bumped by every restore: names the lineage in failure messages. */
  epoch: number
  readonly snapshots: Snapshot[]
  restored: boolean
}

/** A message in flight; duplicates share the serial (and the ciphertext and message id). */
interface InFlight {
  readonly serial: number
  readonly from: Name
  readonly ciphertext: Uint8Array
  readonly messageId: Uint8Array
  readonly text: string
}

interface World {
  readonly clock: TestClock
  readonly actors: Record<Name, Actor>
  readonly pool: InFlight[]
  nextSerial: number
}

function copyRecords(records: ReadonlyMap<string, Uint8Array>): Map<string, Uint8Array> {
  return new Map([...records].map(([k, v]) => [k, v.slice()]))
}

/** A manager over a fresh store holding copies of the given bytes, as after a restart on restored storage. */
function open(clock: TestClock, records: ReadonlyMap<string, Uint8Array>, account: Uint8Array) {
  const store = new MemoryProtocolStore()
  for (const [k, v] of copyRecords(records)) store.records.set(k, v)
  store.account = account.slice()
  const manager = createSessionManager({ backend, account: decodeAccount(store.account), store, now: clock.now })
  return { store, manager }
}

/** The parties' state after connectedPair, made once: every run starts from copies of these bytes. */
const base = await (async () => {
  const clock = new TestClock()
  const [a, b] = await connectedPair(backend, clock)
  const save = (p: typeof a) => ({
    address: p.manager.address,
    records: copyRecords(p.store.records),
    account: p.store.account!.slice()
  })
  return { now: clock.t, A: save(a), B: save(b) }
})()

function newWorld(): World {
  const clock = new TestClock()
  clock.t = base.now
  const actor = (name: Name): Actor => ({
    name,
    address: base[name].address,
    ...open(clock, base[name].records, base[name].account),
    consumed: new Set(),
    epoch: 0,
    snapshots: [],
    restored: false
  })
  return { clock, actors: { A: actor('A'), B: actor('B') }, pool: [], nextSerial: 1 }
}

/** The peer's prekey bundle, handed out (one-time prekeys while any are left) as its prekey service would. */
async function bundleOf(w: World, actor: Actor): Promise<PrekeyBundle> {
  return actor.manager.updateAccount(async (state) => {
    const t = await takePrekeyBundle(backend, state, w.clock.now(), 7 * DAY)
    return { state: t.state, result: t.prekeyBundle }
  })
}

/** Encrypts a fresh message; with no session (wiped or archived) it starts one from the peer's bundle first. */
async function sendFrom(w: World, name: Name): Promise<InFlight> {
  const from = w.actors[name]
  const to = w.actors[other(name)]
  const serial = w.nextSerial++
  const text = `${name}#${serial}`
  const id = messageId()
  let ciphertext: Uint8Array
  try {
    ciphertext = (await from.manager.encrypt(to.address, utf8(text), { messageId: id })).ciphertext
  } catch (e) {
    if (!(e instanceof ParleyCryptoError && e.code === 'NoSession')) throw e
    await from.manager.startSession(await bundleOf(w, to))
    ciphertext = (await from.manager.encrypt(to.address, utf8(text), { messageId: id })).ciphertext
  }
  return { serial, from: name, ciphertext, messageId: id, text }
}

/**
 * Delivers one message and checks the invariants. Returns the typed error of a failed decrypt; throws (failing the
 * property) on a wrong plaintext, a second decrypt within one lineage, an untyped throw or an unexpected code.
 */
async function receive(w: World, msg: InFlight): Promise<ParleyCryptoError | undefined> {
  const from = w.actors[msg.from]
  const to = w.actors[other(msg.from)]
  let plaintext: Uint8Array
  let address: string
  try {
    const r = await to.manager.decrypt(msg.ciphertext, { messageId: msg.messageId, address: from.address })
    plaintext = r.plaintext
    address = r.address
  } catch (e) {
    if (!(e instanceof ParleyCryptoError)) throw new Error(`${to.name} got an untyped throw for #${msg.serial}: ${e}`)
    if (!EXPECTED_CODES.has(e.code))
      throw new Error(`${to.name}: unexpected ${e.code} for #${msg.serial}: ${e.message}`)
    // Every party's messages come from one chain of keys unless some state was restored: then a body that does not
    // open under a header that does is a bug, not chaos.
    if (e.code === 'UndecryptableBody' && !w.actors.A.restored && !w.actors.B.restored) {
      throw new Error(`${to.name}: UndecryptableBody for #${msg.serial} though no state was ever restored`)
    }
    return e
  }
  expect(str(plaintext), `${to.name} decrypted #${msg.serial}`).toBe(msg.text)
  expect(address).toBe(from.address)
  if (to.consumed.has(msg.serial)) {
    throw new Error(`${to.name} decrypted #${msg.serial} a second time in lineage ${to.epoch}`)
  }
  to.consumed.add(msg.serial)
  return undefined
}

function pick(w: World, index: number): number {
  return index % w.pool.length
}

type Cmd = fc.AsyncCommand<World, World>

class Send implements Cmd {
  readonly from: Name
  constructor(from: Name) {
    this.from = from
  }
  check(): boolean {
    return true
  }
  async run(w: World): Promise<void> {
    w.pool.push(await sendFrom(w, this.from))
  }
  toString(): string {
    return `send(${this.from})`
  }
}

class Deliver implements Cmd {
  readonly index: number
  readonly reset: boolean
  constructor(index: number, reset: boolean) {
    this.index = index
    this.reset = reset
  }
  check(w: Readonly<World>): boolean {
    return w.pool.length > 0
  }
  async run(w: World): Promise<void> {
    const [msg] = w.pool.splice(pick(w, this.index), 1)
    const e = await receive(w, msg!)
    // The messenger answers a reset-worthy failure with a fresh session from the sender's bundle (maybe).
    if (e !== undefined && this.reset && needsSessionReset(e)) {
      await w.actors[other(msg!.from)].manager.startSession(await bundleOf(w, w.actors[msg!.from]))
    }
  }
  toString(): string {
    return `deliver(${this.index}${this.reset ? ', reset' : ''})`
  }
}

class Drop implements Cmd {
  readonly index: number
  constructor(index: number) {
    this.index = index
  }
  check(w: Readonly<World>): boolean {
    return w.pool.length > 0
  }
  async run(w: World): Promise<void> {
    w.pool.splice(pick(w, this.index), 1)
  }
  toString(): string {
    return `drop(${this.index})`
  }
}

class Duplicate implements Cmd {
  readonly index: number
  constructor(index: number) {
    this.index = index
  }
  check(w: Readonly<World>): boolean {
    return w.pool.length > 0
  }
  async run(w: World): Promise<void> {
    w.pool.push(w.pool[pick(w, this.index)]!)
  }
  toString(): string {
    return `duplicate(${this.index})`
  }
}

class TakeSnapshot implements Cmd {
  readonly who: Name
  constructor(who: Name) {
    this.who = who
  }
  check(): boolean {
    return true
  }
  async run(w: World): Promise<void> {
    const p = w.actors[this.who]
    p.snapshots.push({
      records: copyRecords(p.store.records),
      account: p.store.account!.slice(),
      consumed: new Set(p.consumed)
    })
  }
  toString(): string {
    return `snapshot(${this.who})`
  }
}

class Restore implements Cmd {
  readonly who: Name
  readonly index: number
  constructor(who: Name, index: number) {
    this.who = who
    this.index = index
  }
  check(w: Readonly<World>): boolean {
    return w.actors[this.who].snapshots.length > 0
  }
  async run(w: World): Promise<void> {
    const p = w.actors[this.who]
    const s = p.snapshots[this.index % p.snapshots.length]!
    Object.assign(p, open(w.clock, s.records, s.account))
    p.consumed = new Set(s.consumed)
    p.epoch++
    p.restored = true
  }
  toString(): string {
    return `restore(${this.who}, ${this.index})`
  }
}

/** Every session gone (the account with its prekeys stays): a new manager, as the old one caches records. */
class Wipe implements Cmd {
  readonly who: Name
  constructor(who: Name) {
    this.who = who
  }
  check(): boolean {
    return true
  }
  async run(w: World): Promise<void> {
    const p = w.actors[this.who]
    Object.assign(p, open(w.clock, new Map(), p.store.account!))
  }
  toString(): string {
    return `wipe(${this.who})`
  }
}

class Archive implements Cmd {
  readonly who: Name
  constructor(who: Name) {
    this.who = who
  }
  check(): boolean {
    return true
  }
  async run(w: World): Promise<void> {
    await w.actors[this.who].manager.archiveCurrentSession(w.actors[other(this.who)].address)
  }
  toString(): string {
    return `archive(${this.who})`
  }
}

const name = fc.constantFrom<Name>('A', 'B')
const commandArb = fc.oneof(
  { weight: 4, arbitrary: name.map((n): Cmd => new Send(n)) },
  { weight: 6, arbitrary: fc.tuple(fc.nat(), fc.boolean()).map(([i, r]): Cmd => new Deliver(i, r)) },
  { weight: 1, arbitrary: fc.nat().map((i): Cmd => new Drop(i)) },
  { weight: 1, arbitrary: fc.nat().map((i): Cmd => new Duplicate(i)) },
  { weight: 2, arbitrary: name.map((n): Cmd => new TakeSnapshot(n)) },
  { weight: 2, arbitrary: fc.tuple(name, fc.nat()).map(([n, i]): Cmd => new Restore(n, i)) },
  { weight: 1, arbitrary: name.map((n): Cmd => new Wipe(n)) },
  { weight: 1, arbitrary: name.map((n): Cmd => new Archive(n)) }
)

/**
 * Is this failure of a fresh message a desync the receiver should answer with a fresh session?
 * - needsSessionReset: the library's own answer (no session, no header key opens, stale session).
 * - DuplicateMessage: every message here is fresh, so the sender reuses message numbers the receiver has already
 *   consumed: it was restored from a snapshot and its chain is behind. Waiting can heal that only when the chain is
 *   still the receiver's current one; a reset always does. Without a restored sender it is a bug.
 */
function resetWorthy(w: World, msg: InFlight, e: ParleyCryptoError): boolean {
  if (needsSessionReset(e)) return true
  if (e.code === 'DuplicateMessage') {
    if (!w.actors[msg.from].restored)
      throw new Error(`fresh #${msg.serial} was a duplicate, yet its sender was never restored`)
    return true
  }
  return false
}

/** One direction of an exchange: sends a fresh message and delivers it at once. True when it decrypted. */
async function exchange(w: World, from: Name, trace: string[]): Promise<boolean> {
  const msg = await sendFrom(w, from)
  const e = await receive(w, msg)
  if (e === undefined) return true
  trace.push(`${from}->${other(from)} ${e.code}`)
  if (resetWorthy(w, msg, e)) {
    await w.actors[other(from)].manager.startSession(await bundleOf(w, w.actors[from]))
  }
  return false
}

/** The quiet period: the parties must agree on one session and talk both ways within MAX_EXCHANGES exchanges. */
async function converge(w: World): Promise<void> {
  const { A: a, B: b } = w.actors
  const trace: string[] = []
  for (let i = 0; i < MAX_EXCHANGES; i++) {
    const ab = await exchange(w, 'A', trace)
    const ba = await exchange(w, 'B', trace)
    if (ab && ba) {
      const ia = await a.manager.sessionInfo(b.address)
      const ib = await b.manager.sessionInfo(a.address)
      if (ia !== undefined && ib !== undefined && equalBytes(ia.sessionId, ib.sessionId)) return
      trace.push('session ids differ')
    }
  }
  throw new Error(`no convergence within ${MAX_EXCHANGES} exchanges: ${trace.join('; ')}`)
}

async function play(cmds: Iterable<Cmd>): Promise<World> {
  const w = newWorld()
  await fc.asyncModelRun(async () => ({ model: w, real: w }), cmds)
  await converge(w)
  return w
}

/**
 * The fork (found by this property, then fixed): a restored party repeats a DH ratchet step it had already taken,
 * with a new random ratchet key. Its new sending chain has the header key of the chain the peer already holds (header
 * keys come from the root chain one step earlier) but other message keys. The peer opens the header under its current
 * receiving header key — which only the peer's partner holds — and finds another ratchet key: RatchetFork, which
 * needsSessionReset flags, so the peer starts a new session and both heal.
 */
const FORKS: Readonly<Record<string, readonly Cmd[]>> = {
  // Found by the property (seed 1409967304, path "1066:25:43:44:33:19:30:28:19:23:24:24:24",
  // with these weights): B starts a new session, A answers on it, A is restored to before the session and reads B's
  // second initial message, so it runs the responder's first DH step again.
  'a restored responder reads a resent initial message': [
    new Archive('B'),
    new TakeSnapshot('A'),
    new Send('B'),
    new Deliver(0, false),
    new Send('B'),
    new Send('A'),
    new Restore('A', 0),
    new Deliver(0, false),
    new Deliver(0, false)
  ],
  // The same within one session, by hand: B sends twice on a new chain; A, snapshotted before reading them, reads
  // one and answers (B reads the answer); restored, A reads the other.
  'a restored party reads a second message of a new chain': [
    new Send('A'),
    new Deliver(0, false),
    new Send('B'),
    new Send('B'),
    new TakeSnapshot('A'),
    new Deliver(0, false),
    new Send('A'),
    new Deliver(1, false),
    new Restore('A', 0),
    new Deliver(0, false)
  ]
}

describe(`session resets under chaos (${backend.name})`, () => {
  it(`${NUM_RUNS} runs of up to ${MAX_COMMANDS} commands: plaintexts exact, typed errors only, convergence within ${MAX_EXCHANGES} exchanges`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.commands([commandArb], { maxCommands: MAX_COMMANDS, size: 'max' }), async (cmds) => {
        await play(cmds)
      }),
      { numRuns: NUM_RUNS }
    )
  })

  for (const [label, fork] of Object.entries(FORKS)) {
    describe(`fork: ${label}`, () => {
      it('the party that was not restored sees RatchetFork, which calls for a reset', async () => {
        const w = newWorld()
        await fc.asyncModelRun(async () => ({ model: w, real: w }), fork)
        const e = await receive(w, await sendFrom(w, 'A'))
        expect(e?.code).toBe('RatchetFork')
        expect(needsSessionReset(e)).toBe(true)
      })

      it(`converges within ${MAX_EXCHANGES} exchanges with the library's reset rule`, async () => {
        await play(fork)
      })
    })
  }
})
