/**
 * Hostile DHT records. A plain libp2p node with the messengers' own options (an attacker) puts forged, uncertified,
 * expired and rolled-back records with a raw kad-dht put; the DHT servers (messengers) must refuse to store them, and
 * the reader — a kad-dht get from another plain node (an observer, which sees each server's answer) and
 * `messenger.lookup` — must return only the genuine record, or ContactNotFoundError when there is none.
 *
 * The attacker's own node stores whatever it puts (kad-dht's local put does not validate) and serves it: that is how
 * an invalid record reaches the reader here, and the reader's rejection is observed as a discarded answer.
 */
import { publicKeyToProtobuf } from '@libp2p/crypto/keys'
import {
  certifyDevice,
  createAccount,
  decodeBundle,
  defaultBackend,
  encodeBundle,
  generateIdentity,
  type IdentityKeyPair,
  publishBundle,
  signBundle
} from '@parley/crypto'
import type { ProfileStore } from '@parley/store'
import {
  type DhtRecord,
  type DhtRecordFields,
  decodeDhtRecord,
  dhtKeyForIdentity,
  encodeDhtRecord,
  MAX_DHT_RECORD_LIFETIME_MS,
  signDhtRecord,
  validateDhtRecord
} from '@parley/wire'
import { MemoryDatastore } from 'datastore-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  BUNDLE_LIFETIME_MS,
  CERTIFICATE_LIFETIME_MS,
  ContactNotFoundError,
  type Messenger,
  type Namespace
} from '../src/index.ts'
import {
  accountOf,
  Cluster,
  type GetOutcome,
  type PutOutcome,
  publishAndFind,
  type RawNode,
  rawGet,
  rawPut
} from './adversarial-helpers.ts'
import { hex, memoryProfile, until } from './helpers.ts'

const backend = defaultBackend
const SERVERS = 4
const cluster = new Cluster()
let a: Messenger
let b: Messenger
let bStore: ProfileStore<Namespace>
let bIdentity: IdentityKeyPair
let bKey: Uint8Array
let attacker: RawNode
let observer: RawNode
let mallory: IdentityKeyPair
let malloryKey: Uint8Array
let malloryBundle: Uint8Array
let genuine: DhtRecord
let genuineBytes: Uint8Array

const HOUR = 3600_000

/** A record over `bundle` signed by `identity`, sequence and expiry as given. */
async function record(
  identity: IdentityKeyPair,
  bundle: Uint8Array,
  fields: Partial<DhtRecordFields> = {}
): Promise<DhtRecord> {
  return signDhtRecord(backend, identity, {
    bundle,
    addresses: attacker.getMultiaddrs().map((m) => m.bytes),
    mailboxRelays: [],
    sequence: genuine.sequence + 1000,
    expiresAt: Date.now() + HOUR,
    ...fields
  })
}

/** Servers that served a record in `got`, other than the attacker's own node. */
function honestServed(got: GetOutcome): Map<string, Uint8Array> {
  return new Map([...got.served].filter(([peer]) => peer !== attacker.peerId.toString()))
}

beforeAll(async () => {
  await cluster.start(SERVERS)
  bStore = await memoryProfile()
  b = await cluster.messenger({}, bStore)
  a = await cluster.messenger()
  // The attacker's own node keeps whatever it is told to (a plain record store).
  attacker = await cluster.rawNode({ datastore: new MemoryDatastore() })
  observer = await cluster.rawNode()
  bIdentity = (await accountOf(bStore)).identity
  bKey = dhtKeyForIdentity(b.identityKey)
  await publishAndFind(b, a)
  genuine = (await a.lookup(b.identityKey)).record
  genuineBytes = encodeDhtRecord(genuine)

  mallory = await generateIdentity(backend)
  malloryKey = dhtKeyForIdentity(mallory.publicKey)
  const account = await createAccount(backend, {
    identity: mallory,
    deviceKey: publicKeyToProtobuf(attacker.peerId.publicKey!),
    now: Date.now(),
    certificateLifetimeMs: CERTIFICATE_LIFETIME_MS
  })
  malloryBundle = encodeBundle((await publishBundle(backend, account, Date.now(), BUNDLE_LIFETIME_MS)).bundle)
})

afterAll(async () => {
  await cluster.stop()
})

/**
 * B's node republishes on its own (a retry after a put that timed out on a loaded machine, an address change), so the
 * servers may hold a record of B's newer than `genuine` by the time a check runs (a CI run saw exactly that). What
 * must hold is that it is B's own: valid for B's key now (signed by B, certified device, unexpired, not too long-lived,
 * so none of the forgeries below) and not older than `genuine`.
 */
async function expectGenuineOfB(bytes: Uint8Array, what: string): Promise<void> {
  const valid = await validateDhtRecord(backend, bKey, bytes, Date.now()).catch((e: Error) => e)
  expect(valid, `${what} is a valid record of B's`).not.toBeInstanceOf(Error)
  expect((valid as DhtRecord).sequence, `${what}: sequence`).toBeGreaterThanOrEqual(genuine.sequence)
}

/**
 * Puts `bytes` under `key` from the attacker and checks: every server it was sent to refused it; the observer's get
 * finds at the honest servers only B's genuine record (`genuineOfB`) or nothing; the one server that serves the
 * forgery is the attacker's own node, and the observer's validator discards it.
 */
async function expectRefusedEverywhere(key: Uint8Array, bytes: Uint8Array, genuineOfB = false): Promise<void> {
  const put = await rawPut(attacker, key, bytes)
  expect(put.targets.size, 'the put reached the servers').toBeGreaterThanOrEqual(SERVERS)
  expect([...put.accepted], 'servers that stored the forgery').toEqual([])
  const got = await rawGet(observer, key)
  for (const [peer, value] of honestServed(got)) {
    if (genuineOfB) await expectGenuineOfB(value, `record served by ${peer}`)
    else expect(hex(value), `record served by ${peer}`).toBe('(nothing)')
  }
  expect([...got.invalid]).toEqual([attacker.peerId.toString()])
  if (!genuineOfB) expect(got.best).toBeUndefined()
  else await expectGenuineOfB(got.best!, "the get's best record")
}

/** A's lookup of B returns B's own record, never the forgery. */
async function expectLookupGenuine(): Promise<void> {
  await expectGenuineOfB(encodeDhtRecord((await a.lookup(b.identityKey)).record), "A's lookup")
}

describe("forged records under a genuine identity's key", () => {
  it('a record signed by another identity (naming B) is refused; lookup still returns the genuine one', async () => {
    const forged = { ...(await record(mallory, genuine.bundle)), identityKey: b.identityKey }
    await expectRefusedEverywhere(bKey, encodeDhtRecord(forged), true)
    await expectLookupGenuine()
  })

  it("another identity's own valid record stored under B's key is refused", async () => {
    const theirs = await record(mallory, malloryBundle)
    await expectRefusedEverywhere(bKey, encodeDhtRecord(theirs), true)
    await expectLookupGenuine()
  })

  it("B's genuine record with a raised sequence (signature no longer covers it) is refused", async () => {
    const tampered = { ...genuine, sequence: genuine.sequence + 1000 }
    await expectRefusedEverywhere(bKey, encodeDhtRecord(tampered), true)
    await expectLookupGenuine()
  })

  it('an uncertified record (device certificate signed by another identity, all else signed by B) is refused', async () => {
    // Everything is signed with B's own identity key except the device certificate, which names B but carries
    // Mallory's signature: only the certificate check can refuse it, and its higher sequence would win if stored.
    const { certificate } = await certifyDevice(
      backend,
      { publicKey: b.identityKey, secretKey: mallory.secretKey },
      {
        deviceKey: publicKeyToProtobuf(attacker.peerId.publicKey!),
        issuedAt: Date.now(),
        expiresAt: Date.now() + CERTIFICATE_LIFETIME_MS
      }
    )
    const { signature: _s, version: _v, ...body } = decodeBundle(genuine.bundle)
    const bundle = encodeBundle(await signBundle(backend, bIdentity.secretKey, { ...body, certificate }))
    await expectRefusedEverywhere(bKey, encodeDhtRecord(await record(bIdentity, bundle)), true)
    await expectLookupGenuine()
  })

  it('an expired record signed by B, with a higher sequence, is refused', async () => {
    const expired = await record(bIdentity, genuine.bundle, { expiresAt: Date.now() - 1000 })
    await expectRefusedEverywhere(bKey, encodeDhtRecord(expired), true)
    await expectLookupGenuine()
  })

  it('a record signed by B that claims to live longer than MAX_DHT_RECORD_LIFETIME_MS is refused', async () => {
    const forever = await record(bIdentity, genuine.bundle, {
      expiresAt: Date.now() + MAX_DHT_RECORD_LIFETIME_MS + HOUR
    })
    await expectRefusedEverywhere(bKey, encodeDhtRecord(forever), true)
    await expectLookupGenuine()
  })
})

describe('invalid records of an identity with no genuine record', () => {
  it("an uncertified record (Mallory's bundle carries B's genuine device certificate) is refused; lookup: not found", async () => {
    // Mallory claims B's device (and so B's peer id) as hers: her key signs the record and the bundle.
    const account = await createAccount(backend, {
      identity: mallory,
      deviceKey: publicKeyToProtobuf(attacker.peerId.publicKey!),
      now: Date.now(),
      certificateLifetimeMs: CERTIFICATE_LIFETIME_MS
    })
    const published = (await publishBundle(backend, account, Date.now(), BUNDLE_LIFETIME_MS)).bundle
    const { signature: _s, version: _v, ...body } = published
    const certificate = decodeBundle(genuine.bundle).certificate
    const bundle = encodeBundle(await signBundle(backend, mallory.secretKey, { ...body, certificate }))
    await expectRefusedEverywhere(malloryKey, encodeDhtRecord(await record(mallory, bundle)))
    await expect(a.lookup(mallory.publicKey)).rejects.toBeInstanceOf(ContactNotFoundError)
  })

  it('an expired record is refused; lookup: not found', async () => {
    const expired = await record(mallory, malloryBundle, { expiresAt: Date.now() - 1000 })
    await expectRefusedEverywhere(malloryKey, encodeDhtRecord(expired))
    await expect(a.lookup(mallory.publicKey)).rejects.toBeInstanceOf(ContactNotFoundError)
  })

  it('a record that expires while the servers hold it is still served by them, and refused by every reader', async () => {
    const other = await generateIdentity(backend)
    const key = dhtKeyForIdentity(other.publicKey)
    const account = await createAccount(backend, {
      identity: other,
      deviceKey: publicKeyToProtobuf(attacker.peerId.publicKey!),
      now: Date.now(),
      certificateLifetimeMs: CERTIFICATE_LIFETIME_MS
    })
    const bundle = encodeBundle((await publishBundle(backend, account, Date.now(), BUNDLE_LIFETIME_MS)).bundle)
    const shortLived = encodeDhtRecord(await record(other, bundle, { sequence: 1, expiresAt: Date.now() + 1500 }))
    const put = await rawPut(attacker, key, shortLived)
    expect(put.accepted.size, 'valid when put: the servers store it').toBeGreaterThanOrEqual(SERVERS)
    expect((await a.lookup(other.publicKey)).record.sequence).toBe(1)
    await new Promise((r) => setTimeout(r, 2000))
    // kad-dht servers do not re-validate what they hold before serving it: the reader must.
    const got = await rawGet(observer, key)
    expect(got.invalid.size).toBeGreaterThanOrEqual(SERVERS)
    expect(got.served.size).toBe(0)
    expect(got.best).toBeUndefined()
    await expect(a.lookup(other.publicKey)).rejects.toBeInstanceOf(ContactNotFoundError)
  })
})

describe('a rolled-back record: an older genuine record replayed after a newer one', () => {
  let older: Uint8Array
  let newer: DhtRecord
  let replay: PutOutcome

  beforeAll(async () => {
    // B's first record (sequence N-1, captured above) is genuine and unexpired; B now publishes sequence N.
    older = genuineBytes
    await new Promise((r) => setTimeout(r, 5))
    await b.publish()
    newer = (await a.lookup(b.identityKey)).record
    if (!(newer.sequence > decodeDhtRecord(older).sequence)) throw new Error('B did not publish a newer record')
    const before = await rawGet(observer, bKey)
    for (const value of honestServed(before).values()) {
      if (decodeDhtRecord(value).sequence < newer.sequence) throw new Error('a server did not hold the newer record')
    }
    // Anyone who fetched the older record can replay it: no key is needed.
    replay = await rawPut(attacker, bKey, older)
    if (replay.targets.size < SERVERS) throw new Error('the replay did not reach the servers')
  })

  // Found as a bug, now fixed by MonotonicRecordDatastore (src/dht-datastore.ts) — (packages/messenger/src/libp2p.ts + @parley/wire dhtRecordValidator): the wire docs say every DHT node
  // rejects rolled-back records, but kad-dht 16's PUT_VALUE handler only runs the validator, which is stateless
  // (key, value) and cannot see the record already held; the selector is never consulted on PUT, so the server
  // overwrites. Observed: all 8 nodes of this network (4 servers, the bootstrap, A, B itself and the observer)
  // accepted the replayed sequence N-1 over N. Proposed fix: in createNodeLibp2p give the validator the node's
  // datastore — e.g. dhtRecordValidator(backend, { now, current: (key) => the record stored under
  // /dht/record/<key> }) — and reject an incoming record whose sequence is lower than a valid stored one
  // (selectDhtRecord([stored, incoming]) !== 1); or wrap libp2p's datastore so a put under a parley key keeps the
  // higher-sequence record.
  it('the DHT servers refuse to replace the newer record with the replayed older one', async () => {
    expect([...replay.accepted], 'servers that stored the older record').toEqual([])
  })

  // Found as a bug, now fixed (servers keep the newest record; resolve() never steps back in sequence) — (packages/messenger/src/messenger.ts lookup/resolve): because every server now serves sequence N-1 (see
  // above), kad-dht's selection across servers has only N-1 to choose from and messenger.lookup() returns it: the
  // replay pins B to its previous addresses and signed prekey for as long as that record is unexpired (up to
  // RECORD_LIFETIME_MS, and again after each replay). Observed: lookup returned N-1. Besides the server-side fix,
  // proposed reader-side fix: remember in the ContactRecord the highest record sequence accepted for the contact
  // and ignore lookups that return a lower one (keep the cached device and addresses, treat it as not found).
  it('the reader still gets the newest sequence', async () => {
    // (≥: B may have republished on its own since, see expectGenuineOfB; the replay is older than `newer`.)
    const looked = await a.lookup(b.identityKey)
    expect(looked.record.sequence).toBeGreaterThanOrEqual(newer.sequence)
  })
})

describe('a DHT server that holds an older record and refuses the correction', () => {
  // Found as a bug, now fixed — (packages/messenger/src/messenger.ts lookup): kad-dht 16's get() selects the best record only after the query,
  // then sends it as a correction to every server that answered with another valid record, and throws
  // QueryError('Could not send correction') if one of them does not store it — before it yields the VALUE. lookup()
  // has collected no VALUE by then and rethrows that error: one stale, full, flaky or hostile server on the query path
  // makes a contact unreachable even though every other server serves the newest record. Observed: lookup() rejects
  // (a QueryError, not even ContactNotFoundError). Proposed fix: in lookup(), also collect the records of the
  // PEER_RESPONSE events (kad-dht validated them before yielding them), and when get() throws after some were
  // collected, select among those (selectDhtRecord) instead of failing; alternatively query with getMany-like
  // semantics so no correction runs inside the lookup.
  let c: Messenger
  let first = Number.POSITIVE_INFINITY

  beforeAll(async () => {
    c = await cluster.messenger()
    const cKey = dhtKeyForIdentity(c.identityKey)
    // Stores C's records until `first` is set, then refuses anything newer for C's key (a stale or hostile server).
    const stale = await cluster.customDhtServer(async (key, value) => {
      if (hex(key) === hex(cKey) && decodeDhtRecord(value).sequence > first) throw new Error('refusing newer record')
    })
    await stale.start()
    // Publish until the stale server holds C's record and answers the observer's get (so it is on the query path).
    const staleId = stale.peerId.toString()
    let held: Uint8Array | undefined
    await until(
      async () => {
        await c.publish().catch(() => {})
        held = (await rawGet(observer, cKey)).served.get(staleId)
        return held !== undefined
      },
      20_000,
      'the stale server to hold and serve the record'
    )
    first = decodeDhtRecord(held!).sequence
    await new Promise((r) => setTimeout(r, 5))
    await c.publish()
  })

  it('lookup still returns the newest record', async () => {
    const looked = await a.lookup(c.identityKey)
    expect(looked.record.sequence).toBeGreaterThan(first)
  })
})
