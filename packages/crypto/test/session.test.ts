/**
 * PQXDH initial messages and session management (current + archived sessions, resets, simultaneous initiation,
 * prekey consumption and rotation, persistence), on every backend this runtime has.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  availableOneTimePrekeys,
  MAX_UNACKNOWLEDGED_SESSION_AGE_MS,
  needsSessionReset,
  ParleyCryptoError,
  PREKEY_GRACE_MS,
  parseInitialMessage,
  pruneRetiredPrekeys,
  rotateLastResortPrekey,
  rotateSignedPrekey,
  toHex
} from '../src/api.ts'
import { backendsUnderTest } from './helpers/backends.ts'
import { connectedPair, DAY, deliver, makeParty, type Party, send, TestClock, type Wire } from './helpers/parties.ts'

const backends = await backendsUnderTest()

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

async function sessionId(p: Party, q: Party): Promise<string | undefined> {
  const info = await p.manager.sessionInfo(q.manager.address)
  return info && toHex(info.sessionId)
}

describe.each(backends.map((b) => [b.name, b] as const))('sessions on %s', (_name, backend) => {
  it('ten initial messages before the first reply, delivered shuffled and twice each, make one session', async () => {
    const clock = new TestClock()
    const a = await makeParty('a', backend, { clock })
    const b = await makeParty('b', backend, { clock })
    await a.manager.startSession(await b.bundle())
    const wires: Wire[] = []
    for (let i = 0; i < 10; i++) wires.push(await send(a, b, `early ${i}`))
    // Every message before the reply is an initial message naming the same prekeys and base key.
    const prefixes = wires.map((w) => parseInitialMessage(w.ciphertext))
    for (const p of prefixes) expect(p.baseKey).toEqual(prefixes[0]!.baseKey)
    const doubled = fc.sample(fc.shuffledSubarray([...wires, ...wires], { minLength: 20, maxLength: 20 }), {
      numRuns: 1,
      seed: 3
    })[0]!
    const shown: string[] = []
    let duplicates = 0
    for (const w of doubled) {
      try {
        shown.push(await deliver(b, w))
      } catch (e) {
        expect((e as ParleyCryptoError).code).toBe('DuplicateMessage')
        duplicates++
      }
    }
    expect(shown.sort()).toEqual(wires.map((w) => w.text).sort())
    expect(duplicates).toBe(10)
    const info = await b.manager.sessionInfo(a.manager.address)
    expect(info?.archived).toBe(0)
    // The reply acknowledges the session: A stops sending initial messages.
    expect(await deliver(a, await send(b, a, 'reply'))).toBe('reply')
    const after = await a.manager.encrypt(b.manager.address, new Uint8Array([1]))
    expect(after.initial).toBe(false)
  })

  it('a one-time prekey is consumed once: a new base key naming it is rejected, nothing changes', async () => {
    const clock = new TestClock()
    const a = await makeParty('a', backend, { clock })
    const c = await makeParty('c', backend, { clock })
    const b = await makeParty('b', backend, { clock })
    const bundle = await b.bundle()
    expect(bundle.oneTimePrekey).toBeDefined()
    await a.manager.startSession(bundle)
    expect(await deliver(b, await send(a, b, 'first'))).toBe('first')
    const before = availableOneTimePrekeys(b.manager.account, 'x25519')
    // The same bundle, replayed to another sender: its one-time prekeys are gone.
    await c.manager.startSession(bundle)
    const snapshot = persisted(b)
    const err = await failure(deliver(b, await send(c, b, 'second')))
    expect(err.code).toBe('UnknownPrekey')
    expect(persisted(b)).toBe(snapshot)
    expect(availableOneTimePrekeys(b.manager.account, 'x25519')).toBe(before)
  })

  it('an initial message that fails authentication leaves prekeys, sessions and account unchanged', async () => {
    const a = await makeParty('a', backend)
    const b = await makeParty('b', backend, { clock: a.clock })
    await a.manager.startSession(await b.bundle())
    const w = await send(a, b, 'genuine')
    const snapshot = persisted(b)
    for (const i of [1, 40, 1700, w.ciphertext.length - 1]) {
      const bad = w.ciphertext.slice()
      bad[i]! ^= 0x80
      await failure(b.manager.decrypt(bad, { messageId: w.messageId }))
      expect(persisted(b)).toBe(snapshot)
    }
    expect(await deliver(b, w)).toBe('genuine')
  })

  it('with no one-time prekeys left the session forms on the last-resort prekey, and a replayed first message is refused', async () => {
    const clock = new TestClock()
    const a = await makeParty('a', backend, { clock })
    const b = await makeParty('b', backend, { clock, oneTime: 0 })
    const bundle = await b.bundle()
    expect(bundle.oneTimePrekey).toBeUndefined()
    expect(bundle.oneTimeKemPrekey).toBeUndefined()
    await a.manager.startSession(bundle)
    const first = await send(a, b, 'last resort')
    expect(parseInitialMessage(first.ciphertext).kemIsOneTime).toBe(false)
    expect(await deliver(b, first)).toBe('last resort')
    // While the session exists a duplicate goes to it; once it is gone, the replay cache refuses the replay.
    expect((await failure(deliver(b, first))).code).toBe('DuplicateMessage')
    const fresh = b.withoutSessions()
    expect((await failure(deliver(fresh, first))).code).toBe('ReplayedInitialMessage')
  })

  it('after signed and last-resort prekey rotation, first messages on the old ones work within the grace period only', async () => {
    const clock = new TestClock()
    const a = await makeParty('a', backend, { clock })
    const b = await makeParty('b', backend, { clock, oneTime: 0 })
    const oldBundle = await b.bundle()
    await b.manager.updateAccount(async (s) => {
      let next = await rotateSignedPrekey(backend, s, clock.now())
      next = await rotateLastResortPrekey(backend, next, clock.now())
      return { state: next, result: undefined }
    })
    await a.manager.startSession(oldBundle)
    const inGrace = await send(a, b, 'in grace')
    expect(await deliver(b, inGrace)).toBe('in grace')
    const c = await makeParty('c', backend, { clock })
    await c.manager.startSession(oldBundle)
    const late = await send(c, b, 'too late')
    clock.advance(PREKEY_GRACE_MS + DAY)
    await b.manager.updateAccount(async (s) => ({ state: pruneRetiredPrekeys(s, clock.now()), result: undefined }))
    expect((await failure(deliver(b, late))).code).toBe('UnknownPrekey')
  })

  it('simultaneous initiation converges on one session', async () => {
    const clock = new TestClock()
    const a = await makeParty('a', backend, { clock })
    const b = await makeParty('b', backend, { clock })
    await a.manager.startSession(await b.bundle())
    await b.manager.startSession(await a.bundle())
    const fromA = await send(a, b, 'from a')
    const fromB = await send(b, a, 'from b')
    expect(await deliver(b, fromA)).toBe('from a')
    expect(await deliver(a, fromB)).toBe('from b')
    for (let i = 0; i < 3; i++) {
      expect(await deliver(b, await send(a, b, `a${i}`))).toBe(`a${i}`)
      expect(await deliver(a, await send(b, a, `b${i}`))).toBe(`b${i}`)
    }
    expect(await sessionId(a, b)).toBe(await sessionId(b, a))
  })

  it('when one side lost its state, a fresh initiation replaces the session without any identity change', async () => {
    const [a, b0] = await connectedPair(backend)
    const identityBefore = (await a.manager.sessionInfo(b0.manager.address))!.remoteIdentityKey
    // B loses every session (a reinstall that kept the identity and prekeys).
    const b = b0.withoutSessions()
    const err = await failure(deliver(b, await send(a, b, 'into the void')))
    expect(err.code).toBe('NoSession')
    expect(needsSessionReset(err)).toBe(true)
    await b.manager.startSession(await a.bundle())
    expect(await deliver(a, await send(b, a, 'I am back'))).toBe('I am back')
    expect(await deliver(b, await send(a, b, 'welcome back'))).toBe('welcome back')
    const info = (await a.manager.sessionInfo(b.manager.address))!
    expect(info.remoteIdentityKey).toEqual(identityBefore)
    expect(await sessionId(a, b)).toBe(await sessionId(b, a))
  })

  it('a late message for an archived session still decrypts', async () => {
    const [a, b] = await connectedPair(backend)
    const old = await send(a, b, 'sent on the old session')
    // B starts over; A accepts the new session, the old one is archived on both sides.
    await b.manager.startSession(await a.bundle())
    expect(await deliver(a, await send(b, a, 'new session'))).toBe('new session')
    expect((await b.manager.sessionInfo(a.manager.address))!.archived).toBe(1)
    expect(await deliver(b, old)).toBe('sent on the old session')
  })

  it('a message for another recipient fails typed and changes nothing there', async () => {
    const [a, b] = await connectedPair(backend)
    const c = await makeParty('c', backend, { clock: a.clock })
    await c.manager.startSession(await a.bundle())
    const w = await send(a, b, 'for b only')
    const snapshot = persisted(c)
    const err = await failure(c.manager.decrypt(w.ciphertext, { messageId: w.messageId, address: a.manager.address }))
    expect(['UndecryptableHeader', 'NoSession']).toContain(err.code)
    expect(persisted(c)).toBe(snapshot)
    // An initial message sealed for B does not open at C either.
    await a.manager.startSession(await b.bundle())
    const initial = await send(a, b, 'initial for b')
    expect((await failure(c.manager.decrypt(initial.ciphertext, { messageId: initial.messageId }))).code).toMatch(
      /UnknownPrekey|SealedSenderFailure/
    )
  })

  it('an initial message claimed by another sender address is refused', async () => {
    const clock = new TestClock()
    const a = await makeParty('a', backend, { clock })
    const b = await makeParty('b', backend, { clock })
    const c = await makeParty('c', backend, { clock })
    await a.manager.startSession(await b.bundle())
    const w = await send(a, b, 'from a')
    const err = await failure(b.manager.decrypt(w.ciphertext, { messageId: w.messageId, address: c.manager.address }))
    expect(err.code).toBe('UntrustedIdentity')
  })

  it('an initial message naming another device than the transport authenticated is refused, nothing stored', async () => {
    const clock = new TestClock()
    const a = await makeParty('a', backend, { clock })
    const b = await makeParty('b', backend, { clock })
    await a.manager.startSession(await b.bundle())
    const w = await send(a, b, 'from a')
    const snapshot = persisted(b)
    const err = await failure(
      b.manager.decrypt(w.ciphertext, { messageId: w.messageId, deviceKey: new TextEncoder().encode('someone else') })
    )
    expect(err.code).toBe('UntrustedIdentity')
    expect(persisted(b)).toBe(snapshot)
    const ok = await b.manager.decrypt(w.ciphertext, {
      messageId: w.messageId,
      deviceKey: a.manager.account.device.certificate.deviceKey
    })
    expect(new TextDecoder().decode(ok.plaintext)).toBe('from a')
  })

  it('a session unacknowledged for 30 days stops being used to send', async () => {
    const clock = new TestClock()
    const a = await makeParty('a', backend, { clock })
    const b = await makeParty('b', backend, { clock })
    await a.manager.startSession(await b.bundle())
    await send(a, b, 'no answer')
    clock.advance(MAX_UNACKNOWLEDGED_SESSION_AGE_MS + 1)
    const err = await failure(send(a, b, 'still nothing'))
    expect(err.code).toBe('StaleSession')
    expect(needsSessionReset(err)).toBe(true)
    await a.manager.startSession(await b.bundle())
    expect(await deliver(b, await send(a, b, 'fresh bundle'))).toBe('fresh bundle')
  })

  it("the peer device's stored-ack of an initial message acknowledges its session: later messages carry no prefix and decrypt; an ack of a ratchet message or of an unknown session changes nothing", async () => {
    const clock = new TestClock()
    const a = await makeParty('a', backend, { clock })
    const b = await makeParty('b', backend, { clock })
    await a.manager.startSession(await b.bundle())
    const first = await send(a, b, 'first')
    const second = await send(a, b, 'second, also initial')
    expect(await deliver(b, first)).toBe('first')
    // A forged ack naming a session A does not have (another base key) is ignored.
    const other = await makeParty('c', backend, { clock })
    await other.manager.startSession(await b.bundle())
    const foreign = await send(other, b, 'not yours')
    const before = persisted(a)
    expect(await a.manager.confirmDelivered(b.manager.address, foreign.ciphertext)).toBe(false)
    expect(persisted(a)).toBe(before)
    expect((await a.manager.sessionInfo(b.manager.address))?.acknowledged).toBe(false)
    expect(await a.manager.confirmDelivered(b.manager.address, first.ciphertext)).toBe(true)
    expect((await a.manager.sessionInfo(b.manager.address))?.acknowledged).toBe(true)
    // Persisted, not only cached: a restart keeps sending plain ratchet messages.
    const a2 = a.restart()
    const third = await send(a2, b, 'third, a ratchet message')
    expect(third.ciphertext.length).toBeLessThan(first.ciphertext.length - 1000)
    expect(await a2.manager.confirmDelivered(b.manager.address, third.ciphertext)).toBe(false)
    expect(await deliver(b, third)).toBe('third, a ratchet message')
    // An initial message still in flight when the ack came decrypts all the same.
    expect(await deliver(b, second)).toBe('second, also initial')
    expect(await deliver(a2, await send(b, a2, 'reply'))).toBe('reply')
  })

  it('a node restarts mid-conversation from its stored bytes without re-keying', async () => {
    const [a, b] = await connectedPair(backend)
    const id = await sessionId(a, b)
    const pending = await send(a, b, 'sent before the restart')
    const b2 = b.restart()
    const a2 = a.restart()
    expect(await deliver(b2, pending)).toBe('sent before the restart')
    expect(await deliver(a2, await send(b2, a2, 'after restart'))).toBe('after restart')
    expect(await sessionId(a2, b2)).toBe(id)
    expect(await sessionId(b2, a2)).toBe(id)
  })
})
