/**
 * Prekey lifecycle bounds against strangers: the two pools of handed-out one-time prekeys (requesters vs mailbox
 * relays), the last-resort replay cache (capped, never trimmed), last-resort rotation, and device-certificate renewal.
 * On the first backend of this runtime (node:crypto in Node, WebCrypto in Chromium): these are account rules, the
 * backends' agreement is tested elsewhere.
 */
import { describe, expect, it } from 'vitest'
import {
  type AccountState,
  availableOneTimePrekeys,
  createSessionManager,
  decodeAccount,
  encodeAccount,
  generateOneTimePrekeys,
  handedOutOneTimePrekeys,
  handOutOneTimePrekeys,
  isCryptoError,
  LAST_RESORT_ROTATION_USES,
  lastResortPrekeyNeedsRotation,
  MAX_LAST_RESORT_PREKEYS,
  MAX_RELAY_PREKEY_AGE_MS,
  MAX_RELAY_PREKEYS,
  MAX_REPLAY_CACHE_ENTRIES,
  MAX_REQUESTER_PREKEYS,
  ParleyCryptoError,
  type PrekeyBundle,
  pruneRetiredPrekeys,
  publishBundle,
  rememberLastResortUse,
  renewDeviceCertificateIfDue,
  rotateLastResortPrekey,
  type SignedOneTimePrekey,
  takePrekeyBundle,
  toHex,
  verifyCertificate,
  verifyPrekeyBundle
} from '../src/api.ts'
import { MemoryProtocolStore } from '../src/testing.ts'
import { backendsUnderTest } from './helpers/backends.ts'
import { DAY, deliver, makeParty, type Party, send, TestClock } from './helpers/parties.ts'

const backend = (await backendsUnderTest())[0]!
/** What the messenger does (ONE_TIME_PREKEY_TARGET / _REPLENISH_BELOW): top up to 100 when fewer than 20 are left. */
const TARGET = 100
const REPLENISH_BELOW = 20
/** Finding 4: about 450 bundle requests pushed the handed-out count past the old shared cap. */
const STRANGER_REQUESTS = 460
/** The messenger's batch per relay (MAILBOX_PREKEY_BATCH). */
const RELAY_BATCH = 16

async function failure(p: Promise<unknown>): Promise<ParleyCryptoError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err
  )
  expect(e).toBeInstanceOf(ParleyCryptoError)
  return e as ParleyCryptoError
}

/** Everything `p` has persisted, for byte-identical comparisons. */
function persisted(p: Party): string {
  const parts = [...p.store.records.entries()].map(([k, v]) => `${k}=${toHex(v)}`)
  return `${parts.sort().join(';')}|${p.store.account ? toHex(p.store.account) : ''}`
}

/** Replaces a party's account (committed through the manager, as the messenger's updateAccount does). */
async function setAccount(p: Party, change: (s: AccountState) => AccountState | Promise<AccountState>): Promise<void> {
  await p.manager.updateAccount(async (s) => ({ state: await change(s), result: undefined }))
}

describe('handed-out one-time prekeys: requesters and relays have separate pools', () => {
  it(`${STRANGER_REQUESTS} bundle requests from strangers do not evict a relay-held key: a contact's first message deposited with it still decrypts`, async () => {
    const clock = new TestClock()
    const bob = await makeParty('bob', backend, { clock, oneTime: 0 })
    let s = bob.manager.account
    s = await generateOneTimePrekeys(backend, s, 'x25519', TARGET)
    s = await generateOneTimePrekeys(backend, s, 'kem', TARGET)
    // Bob leaves a batch at his mailbox relay (what the messenger's top-up does).
    const relayHeld: Record<'x25519' | 'kem', SignedOneTimePrekey[]> = { x25519: [], kem: [] }
    for (const kind of ['x25519', 'kem'] as const) {
      const h = handOutOneTimePrekeys(s, kind, RELAY_BATCH, clock.now())
      s = h.state
      relayHeld[kind] = h.prekeys
    }
    expect(relayHeld.x25519).toHaveLength(RELAY_BATCH)
    // Strangers (PeerIds are free) ask Bob's prekey protocol for bundles; Bob replenishes as the messenger does.
    let firstTaken: PrekeyBundle | undefined
    for (let i = 0; i < STRANGER_REQUESTS; i++) {
      for (const kind of ['x25519', 'kem'] as const) {
        if (availableOneTimePrekeys(s, kind) < REPLENISH_BELOW)
          s = await generateOneTimePrekeys(backend, s, kind, TARGET)
      }
      const t = await takePrekeyBundle(backend, s, clock.now(), 7 * DAY)
      s = t.state
      firstTaken ??= t.prekeyBundle
    }
    for (const kind of ['x25519', 'kem'] as const) {
      expect(handedOutOneTimePrekeys(s, kind, 'requester')).toBe(MAX_REQUESTER_PREKEYS)
      expect(handedOutOneTimePrekeys(s, kind, 'relay')).toBe(RELAY_BATCH)
    }
    const store = new MemoryProtocolStore()
    store.account = encodeAccount(s)
    const manager = createSessionManager({ backend, account: decodeAccount(store.account), store, now: clock.now })

    // Alice took one key of each kind from the relay and deposits her first message.
    const alice = await makeParty('alice', backend, { clock })
    const { bundle } = await publishBundle(backend, s, clock.now(), 7 * DAY)
    await alice.manager.startSession({
      bundle,
      oneTimePrekey: relayHeld.x25519[0]!,
      oneTimeKemPrekey: relayHeld.kem[0]!
    })
    const id = new Uint8Array(16).fill(7)
    const { ciphertext } = await alice.manager.encrypt(manager.address, new TextEncoder().encode('via the relay'), {
      messageId: id
    })
    const got = await manager.decrypt(ciphertext, { messageId: id })
    expect(new TextDecoder().decode(got.plaintext)).toBe('via the relay')
    expect(handedOutOneTimePrekeys(manager.account, 'x25519', 'relay')).toBe(RELAY_BATCH - 1)

    // The requester pool is what paid: the first stranger's keys were forgotten (UnknownPrekey, nothing stored).
    const carol = await makeParty('carol', backend, { clock })
    await carol.manager.startSession(firstTaken!)
    const late = await carol.manager.encrypt(manager.address, new Uint8Array(3), { messageId: id.map((x) => x ^ 1) })
    const commits = store.commits
    const err = await failure(manager.decrypt(late.ciphertext, { messageId: late.messageId }))
    expect(isCryptoError(err, 'UnknownPrekey')).toBe(true)
    expect(store.commits).toBe(commits)
  })

  it(`the relay pool is never evicted by count: at MAX_RELAY_PREKEYS (${MAX_RELAY_PREKEYS}) hand-outs return nothing, and relay keys are forgotten MAX_RELAY_PREKEY_AGE_MS after hand-out, not before`, async () => {
    const clock = new TestClock()
    const bob = await makeParty('bob', backend, { clock, oneTime: 0 })
    let s = bob.manager.account
    while (handedOutOneTimePrekeys(s, 'x25519', 'relay') < MAX_RELAY_PREKEYS) {
      s = await generateOneTimePrekeys(backend, s, 'x25519', RELAY_BATCH)
      s = handOutOneTimePrekeys(s, 'x25519', RELAY_BATCH, clock.now()).state
    }
    const firstIds = s.oneTimePrekeys.filter((p) => p.handedOut?.to === 'relay').map((p) => p.id)
    expect(firstIds).toHaveLength(MAX_RELAY_PREKEYS)
    s = await generateOneTimePrekeys(backend, s, 'x25519', RELAY_BATCH)
    const full = handOutOneTimePrekeys(s, 'x25519', RELAY_BATCH, clock.now())
    expect(full.prekeys).toEqual([])
    expect(availableOneTimePrekeys(full.state, 'x25519')).toBe(RELAY_BATCH)
    // Requester hand-outs still work and never touch the relay pool.
    const taken = await takePrekeyBundle(backend, full.state, clock.now(), 7 * DAY)
    expect(taken.prekeyBundle.oneTimePrekey).toBeDefined()
    expect(taken.state.oneTimePrekeys.filter((p) => p.handedOut?.to === 'relay').map((p) => p.id)).toEqual(firstIds)
    // Age: kept one millisecond before MAX_RELAY_PREKEY_AGE_MS, gone at it (pruneRetiredPrekeys, which the messenger runs).
    const handedOutAt = clock.now()
    expect(
      handedOutOneTimePrekeys(
        pruneRetiredPrekeys(taken.state, handedOutAt + MAX_RELAY_PREKEY_AGE_MS - 1),
        'x25519',
        'relay'
      )
    ).toBe(MAX_RELAY_PREKEYS)
    const aged = pruneRetiredPrekeys(taken.state, handedOutAt + MAX_RELAY_PREKEY_AGE_MS)
    expect(handedOutOneTimePrekeys(aged, 'x25519', 'relay')).toBe(0)
    expect(handedOutOneTimePrekeys(aged, 'x25519', 'requester')).toBe(1)
    expect(handOutOneTimePrekeys(aged, 'x25519', RELAY_BATCH, clock.now()).prekeys).toHaveLength(RELAY_BATCH - 1)
  })

  it('the account bytes keep each pool: relay hand-out times and requester marks survive a restart', async () => {
    const clock = new TestClock()
    const bob = await makeParty('bob', backend, { clock, oneTime: 3 })
    let s = handOutOneTimePrekeys(bob.manager.account, 'kem', 2, clock.now() - 5).state
    s = (await takePrekeyBundle(backend, s, clock.now(), 7 * DAY)).state
    const round = decodeAccount(encodeAccount(s))
    expect(round.oneTimePrekeys.map((p) => [p.kind, p.id, p.handedOut])).toEqual(
      s.oneTimePrekeys.map((p) => [p.kind, p.id, p.handedOut])
    )
    expect(round.oneTimePrekeys.filter((p) => p.handedOut?.to === 'relay').map((p) => p.handedOut)).toEqual([
      { to: 'relay', at: clock.now() - 5 },
      { to: 'relay', at: clock.now() - 5 }
    ])
    expect(toHex(encodeAccount(round))).toBe(toHex(encodeAccount(s)))
  })
})

describe('the last-resort replay cache', () => {
  it(`is never trimmed: at MAX_REPLAY_CACHE_ENTRIES (${MAX_REPLAY_CACHE_ENTRIES}) the key refuses new first messages (LastResortPrekeyExhausted, nothing stored), the recorded ones stay refused as replays, and a rotated key takes new ones`, async () => {
    const clock = new TestClock()
    const alice = await makeParty('alice', backend, { clock })
    const bob = await makeParty('bob', backend, { clock, oneTime: 0 })
    const oldBundle = await bob.bundle()
    await alice.manager.startSession(oldBundle)
    const first = await send(alice, bob, 'first on the last-resort key')
    expect(await deliver(bob, first)).toBe('first on the last-resort key')
    // Strangers' first messages fill the rest of the cache (fingerprints only: what the cache holds).
    const keyId = bob.manager.account.lastResortPrekeys[0]!.id
    await setAccount(bob, (s) => {
      let next = s
      for (let i = next.lastResortPrekeys[0]!.replayCache.length; i < MAX_REPLAY_CACHE_ENTRIES; i++) {
        next = rememberLastResortUse(next, keyId, i.toString(16).padStart(64, '0'))
      }
      return next
    })
    expect(bob.manager.account.lastResortPrekeys[0]!.replayCache).toHaveLength(MAX_REPLAY_CACHE_ENTRIES)
    expect(lastResortPrekeyNeedsRotation(bob.manager.account)).toBe(true)
    expect(() => rememberLastResortUse(bob.manager.account, keyId, 'f'.repeat(64))).toThrow(
      expect.objectContaining({ code: 'LastResortPrekeyExhausted' })
    )

    const carol = await makeParty('carol', backend, { clock })
    await carol.manager.startSession(oldBundle)
    const refused = await send(carol, bob, 'one too many')
    const snapshot = persisted(bob)
    expect((await failure(deliver(bob, refused))).code).toBe('LastResortPrekeyExhausted')
    expect(persisted(bob)).toBe(snapshot)
    // The first first-message was not evicted to make room: with the session lost, it is still a replay.
    const lost = bob.withoutSessions()
    expect((await failure(deliver(lost, first))).code).toBe('ReplayedInitialMessage')

    await setAccount(bob, (s) => rotateLastResortPrekey(backend, s, clock.now()))
    expect(lastResortPrekeyNeedsRotation(bob.manager.account)).toBe(false)
    await carol.manager.startSession(await bob.bundle())
    expect(await deliver(bob, await send(carol, bob, 'on the fresh key'))).toBe('on the fresh key')
    // The full, retired key still refuses (until the grace period deletes it with its cache).
    const dave = await makeParty('dave', backend, { clock })
    await dave.manager.startSession(oldBundle)
    expect((await failure(deliver(bob, await send(dave, bob, 'old key')))).code).toBe('LastResortPrekeyExhausted')
  })

  it(`asks for rotation at LAST_RESORT_ROTATION_USES (${LAST_RESORT_ROTATION_USES}) first messages, and rotation keeps at most MAX_LAST_RESORT_PREKEYS (${MAX_LAST_RESORT_PREKEYS}) keys, newest first`, async () => {
    const bob = await makeParty('bob', backend, { oneTime: 0 })
    let s = bob.manager.account
    const id = s.lastResortPrekeys[0]!.id
    for (let i = 0; i < LAST_RESORT_ROTATION_USES - 1; i++)
      s = rememberLastResortUse(s, id, i.toString(16).padStart(64, '0'))
    expect(lastResortPrekeyNeedsRotation(s)).toBe(false)
    s = rememberLastResortUse(s, id, 'e'.repeat(64))
    expect(lastResortPrekeyNeedsRotation(s)).toBe(true)
    const ids = [id]
    for (let i = 0; i < MAX_LAST_RESORT_PREKEYS + 2; i++) {
      s = await rotateLastResortPrekey(backend, s, bob.clock.now() + i)
      ids.unshift(s.lastResortPrekeys[0]!.id)
    }
    expect(s.lastResortPrekeys.map((p) => p.id)).toEqual(ids.slice(0, MAX_LAST_RESORT_PREKEYS))
    expect(s.lastResortPrekeys.slice(1).every((p) => p.retiredAt !== undefined)).toBe(true)
    expect(s.lastResortPrekeys[0]!.retiredAt).toBeUndefined()
  })
})

describe('device certificate renewal', () => {
  const LIFETIME = 365 * DAY

  it('renewDeviceCertificateIfDue: unchanged with half the lifetime left; past that a new certificate for the same device and agreement key, and first messages built on the old bundle still open', async () => {
    const clock = new TestClock()
    const bob = await makeParty('bob', backend, { clock })
    const alice = await makeParty('alice', backend, { clock })
    const before = bob.manager.account
    const issued = before.device.certificate.issuedAt
    expect(before.device.certificate.expiresAt - issued).toBe(LIFETIME)

    const early = await renewDeviceCertificateIfDue(backend, before, issued + LIFETIME / 2, LIFETIME)
    expect(early.renewed).toBe(false)
    expect(early.state).toBe(before)

    // A first message in flight, built on a bundle (and certificate) from before the renewal.
    await alice.manager.startSession(await bob.bundle())
    const inFlight = await send(alice, bob, 'sent before the renewal')
    clock.advance(LIFETIME / 2 + 1)
    let renewed = false
    await bob.manager.updateAccount(async (s) => {
      const r = await renewDeviceCertificateIfDue(backend, s, clock.now(), LIFETIME)
      renewed = r.renewed
      return { state: r.state, result: undefined }
    })
    expect(renewed).toBe(true)
    const cert = bob.manager.account.device.certificate
    expect([cert.issuedAt, cert.expiresAt]).toEqual([clock.now(), clock.now() + LIFETIME])
    expect(cert.deviceKey).toEqual(before.device.certificate.deviceKey)
    expect(cert.agreementKey).toEqual(before.device.certificate.agreementKey)
    expect(cert.identityKey).toEqual(before.identity.publicKey)
    await verifyCertificate(backend, cert, clock.now() + LIFETIME - 1, before.identity.publicKey)
    // The renewal was committed (a restart keeps it) and changes no address.
    expect(decodeAccount(bob.store.account!).device.certificate.issuedAt).toBe(clock.now())
    expect(bob.manager.address).toBe(bob.restart().manager.address)
    expect(await deliver(bob, inFlight)).toBe('sent before the renewal')
    // A fresh bundle carries the new certificate; it verifies past the old certificate's expiry, the old one does not.
    const fresh = await bob.bundle()
    expect(fresh.bundle.certificate.issuedAt).toBe(clock.now())
    expect(await verifyPrekeyBundle(backend, { bundle: fresh.bundle }, clock.now())).toBe(1)
    const pastOldExpiry = before.device.certificate.expiresAt + 1
    await verifyCertificate(backend, fresh.bundle.certificate, pastOldExpiry)
    await expect(verifyCertificate(backend, before.device.certificate, pastOldExpiry)).rejects.toMatchObject({
      code: 'Expired'
    })
  })

  it('an already expired certificate is renewed; a lifetime that is not a positive integer is InvalidParameter', async () => {
    const bob = await makeParty('bob', backend)
    const s = bob.manager.account
    const later = s.device.certificate.expiresAt + DAY
    const r = await renewDeviceCertificateIfDue(backend, s, later, LIFETIME)
    expect(r.renewed).toBe(true)
    await verifyCertificate(backend, r.state.device.certificate, later)
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      await expect(renewDeviceCertificateIfDue(backend, s, later, bad)).rejects.toMatchObject({
        code: 'InvalidParameter'
      })
    }
  })
})
