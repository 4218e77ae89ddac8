/**
 * Double Ratchet scenarios (header-encrypted variant), on every backend this runtime has.
 * Every failure must be typed and leave the stored bytes exactly as they were.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  decodeSessionRecord,
  MAX_RECEIVING_CHAINS,
  MAX_SKIP,
  MAX_SKIPPED_KEY_AGE_MS,
  MAX_SKIPPED_KEYS,
  ParleyCryptoError
} from '../src/api.ts'
import { backendsUnderTest } from './helpers/backends.ts'
import { connectedPair, DAY, deliver, type Party, send, type Wire } from './helpers/parties.ts'

const backends = await backendsUnderTest()

/** The stored record bytes of `p` for its peer `q`. */
function stored(p: Party, q: Party): Uint8Array {
  return p.store.records.get(q.manager.address)!.slice()
}

/** Expects delivery of `w` to `to` to fail with `code` and to leave `to`'s stored bytes unchanged. */
async function rejects(to: Party, w: Wire, code: string): Promise<void> {
  const before = stored(to, w.from)
  const commits = to.store.commits
  const err = await deliver(to, w).then(
    () => undefined,
    (e: unknown) => e
  )
  expect(err).toBeInstanceOf(ParleyCryptoError)
  expect((err as ParleyCryptoError).code).toBe(code)
  expect(to.store.commits).toBe(commits)
  expect(stored(to, w.from)).toEqual(before)
}

async function burst(from: Party, to: Party, n: number, tag = 'm'): Promise<Wire[]> {
  const out: Wire[] = []
  for (let i = 0; i < n; i++) out.push(await send(from, to, `${tag}${i}`))
  return out
}

describe.each(backends.map((b) => [b.name, b] as const))('double ratchet on %s', (_name, backend) => {
  it('in order: each message decrypts to its plaintext', async () => {
    const [a, b] = await connectedPair(backend)
    for (let i = 0; i < 20; i++) {
      const w = await send(a, b, `in-order ${i}`)
      expect(await deliver(b, w)).toBe(`in-order ${i}`)
    }
  })

  it('out-of-order delivery across several DH ratchet steps', async () => {
    const [a, b] = await connectedPair(backend)
    const held: Array<[Party, Wire]> = []
    for (let round = 0; round < 4; round++) {
      const fromA = await burst(a, b, 3, `a${round}-`)
      // Deliver only the last of each burst now: the rest wait, skipped, across the following DH steps.
      expect(await deliver(b, fromA[2]!)).toBe(`a${round}-2`)
      held.push([b, fromA[0]!], [b, fromA[1]!])
      const fromB = await burst(b, a, 3, `b${round}-`)
      expect(await deliver(a, fromB[1]!)).toBe(`b${round}-1`)
      held.push([a, fromB[0]!], [a, fromB[2]!])
    }
    held.reverse()
    for (const [to, w] of held) expect(await deliver(to, w)).toBe(w.text)
  })

  it('500 messages shuffled: each decrypts exactly once', async () => {
    const [a, b] = await connectedPair(backend)
    const wires = await burst(a, b, 500)
    const order = fc.sample(fc.shuffledSubarray(wires, { minLength: 500, maxLength: 500 }), { numRuns: 1, seed: 7 })[0]!
    const seen = new Set<string>()
    for (const w of order) {
      expect(await deliver(b, w)).toBe(w.text)
      seen.add(w.text)
    }
    expect(seen.size).toBe(500)
    for (const w of order.slice(0, 20)) await rejects(b, w, 'DuplicateMessage')
  })

  it('loss: messages that never arrive do not stop later ones', async () => {
    const [a, b] = await connectedPair(backend)
    const wires = await burst(a, b, 10)
    for (const w of wires.filter((_, i) => i % 3 === 0)) expect(await deliver(b, w)).toBe(w.text)
    const reply = await send(b, a, 'after loss')
    expect(await deliver(a, reply)).toBe('after loss')
    expect(await deliver(b, await send(a, b, 'next'))).toBe('next')
  })

  it('a duplicate is DuplicateMessage with no state change', async () => {
    const [a, b] = await connectedPair(backend)
    const w = await send(a, b, 'once')
    expect(await deliver(b, w)).toBe('once')
    await rejects(b, w, 'DuplicateMessage')
    expect(await deliver(b, await send(a, b, 'twice?'))).toBe('twice?')
  })

  it(`a gap over MAX_SKIP (${MAX_SKIP}) is MessageGapTooLarge with no state change; in-order still decrypts`, async () => {
    const [a, b] = await connectedPair(backend)
    const wires = await burst(a, b, MAX_SKIP + 2)
    // wires[MAX_SKIP + 1] needs MAX_SKIP + 1 skipped keys: one too many.
    await rejects(b, wires[MAX_SKIP + 1]!, 'MessageGapTooLarge')
    expect(await deliver(b, wires[0]!)).toBe(wires[0]!.text)
    // Now exactly MAX_SKIP keys are skipped: allowed.
    expect(await deliver(b, wires[MAX_SKIP + 1]!)).toBe(wires[MAX_SKIP + 1]!.text)
    expect(await deliver(b, wires[500]!)).toBe(wires[500]!.text)
  })

  it(`the skipped-key store is capped at ${MAX_SKIPPED_KEYS}: the evicted key's message fails cleanly`, async () => {
    const [a, b] = await connectedPair(backend)
    const firsts: Wire[] = []
    // Three chains, each with MAX_SKIP - 1 skipped keys: more than MAX_SKIPPED_KEYS in all.
    for (let chain = 0; chain < 3; chain++) {
      const wires = await burst(a, b, MAX_SKIP, `c${chain}-`)
      expect(await deliver(b, wires[MAX_SKIP - 1]!)).toBe(wires[MAX_SKIP - 1]!.text)
      firsts.push(wires[0]!, wires[MAX_SKIP - 2]!)
      expect(await deliver(a, await send(b, a, `turn ${chain}`))).toBe(`turn ${chain}`)
    }
    const record = decodeSessionRecord(stored(b, a))
    const total = record.current!.ratchet.skipped.reduce((n, c) => n + c.keys.size, 0)
    expect(total).toBe(MAX_SKIPPED_KEYS)
    // The oldest key (first chain, message 0) was evicted; the newest ones are still there.
    await rejects(b, firsts[0]!, 'DuplicateMessage')
    expect(await deliver(b, firsts[5]!)).toBe(firsts[5]!.text)
    expect(await deliver(b, firsts[1]!)).toBe(firsts[1]!.text)
  })

  it(`a receiving chain older than the ${MAX_RECEIVING_CHAINS} kept ones fails cleanly`, async () => {
    const [a, b] = await connectedPair(backend)
    const held: Wire[] = []
    for (let chain = 0; chain < MAX_RECEIVING_CHAINS + 1; chain++) {
      const wires = await burst(a, b, 2, `c${chain}-`)
      expect(await deliver(b, wires[1]!)).toBe(wires[1]!.text)
      held.push(wires[0]!)
      expect(await deliver(a, await send(b, a, `turn ${chain}`))).toBe(`turn ${chain}`)
    }
    const record = decodeSessionRecord(stored(b, a))
    expect(record.current!.ratchet.skipped.length).toBe(MAX_RECEIVING_CHAINS)
    // The first chain's header key is no longer tried at all.
    await rejects(b, held[0]!, 'UndecryptableHeader')
    for (const w of held.slice(1)) expect(await deliver(b, w)).toBe(w.text)
  })

  it('each header and body byte flipped fails typed, leaves the state byte-identical, and the genuine message decrypts', async () => {
    const [a, b] = await connectedPair(backend)
    const w = await send(a, b, 'x'.repeat(24))
    for (let i = 0; i < w.ciphertext.length; i++) {
      const bad = w.ciphertext.slice()
      bad[i]! ^= 0x01
      const before = stored(b, a)
      const err = await b.manager.decrypt(bad, { messageId: w.messageId, address: a.manager.address }).then(
        () => undefined,
        (e: unknown) => e
      )
      expect(err, `byte ${i}`).toBeInstanceOf(ParleyCryptoError)
      expect(stored(b, a)).toEqual(before)
    }
    const wrongId = { ...w, messageId: w.messageId.map((x) => x ^ 1) }
    await rejects(b, wrongId, 'UndecryptableBody')
    expect(await deliver(b, w)).toBe(w.text)
  })

  it('forward secrecy: a later snapshot cannot decrypt a received message; expired skipped keys are gone', async () => {
    const [a, b] = await connectedPair(backend)
    const w = await send(a, b, 'secret')
    const skippedOne = await send(a, b, 'skipped')
    const later = await send(a, b, 'later')
    expect(await deliver(b, w)).toBe('secret')
    expect(await deliver(b, later)).toBe('later')
    // A snapshot taken now (as an attacker would steal it) cannot open the message already read.
    const thief = b.snapshot()
    await expect(deliver(thief, w)).rejects.toMatchObject({ code: 'DuplicateMessage' })
    // The skipped key is kept for a while, then expires: after that the message is gone for good.
    expect(decodeSessionRecord(stored(b, a)).current!.ratchet.skipped.length).toBe(1)
    b.clock.advance(MAX_SKIPPED_KEY_AGE_MS + DAY)
    expect(await deliver(b, await send(a, b, 'much later'))).toBe('much later')
    expect(decodeSessionRecord(stored(b, a)).current!.ratchet.skipped.length).toBe(0)
    await rejects(b, skippedOne, 'DuplicateMessage')
  })

  it('post-compromise security: a stolen state loses bodies after one round trip and headers after two', async () => {
    const [a, b] = await connectedPair(backend)
    // Eve copies B's whole state and then sees (and processes) every message A sends to B.
    const eve = b.snapshot()
    const eavesdrop = async (w: Wire) =>
      eve.manager.decrypt(w.ciphertext, { messageId: w.messageId, address: a.manager.address }).then(
        (r) => ({ ok: true as const, text: new TextDecoder().decode(r.plaintext) }),
        (e: ParleyCryptoError) => ({ ok: false as const, code: e.code })
      )
    const m1 = await send(a, b, 'before healing')
    expect(await deliver(b, m1)).toBe('before healing')
    expect(await eavesdrop(m1)).toEqual({ ok: true, text: 'before healing' })
    // One round trip: B answers with a fresh ratchet key Eve does not know, A steps.
    expect(await deliver(a, await send(b, a, 'r1'))).toBe('r1')
    const m2 = await send(a, b, 'after one round trip')
    expect(await deliver(b, m2)).toBe('after one round trip')
    // Eve still opens the header (its key was derived before B's fresh key), but not the body.
    expect(await eavesdrop(m2)).toEqual({ ok: false, code: 'UndecryptableBody' })
    // Second round trip: now the header keys are out of her reach too.
    expect(await deliver(a, await send(b, a, 'r2'))).toBe('r2')
    const m3 = await send(a, b, 'after two round trips')
    expect(await deliver(b, m3)).toBe('after two round trips')
    expect(await eavesdrop(m3)).toEqual({ ok: false, code: 'UndecryptableHeader' })
  })
})
