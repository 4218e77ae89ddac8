/**
 * The call engine between real engines over an in-order signal channel (LoopNet): every outcome on both sides, glare,
 * busy, replayed, late and stale signals, fingerprint binding, media keys from both sides' secrets and their
 * rotation, ICE restart, a three-way mesh, and a property: any sequence of user actions, deliveries and clock steps
 * leaves both sides in consistent states once signals drain.
 */

import { bytesToHex } from '@noble/hashes/utils.js'
import { decodeCallSignal, encodeCallSignal } from '@parley/wire'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  MAX_CONCURRENT_CALLS,
  MAX_OFFER_AGE_MS,
  MAX_OFFER_CLOCK_SKEW_MS,
  MAX_PENDING_CANDIDATES,
  MAX_REMEMBERED_CALLS,
  NO_ANSWER_TIMEOUT_MS,
  REKEY_INTERVAL_MS
} from '../src/constants.ts'
import { LoopNet, last, settle, track } from './loop.ts'

async function pair() {
  const net = new LoopNet()
  const a = net.add()
  const b = net.add()
  return { net, a, b, A: net.engine(a), B: net.engine(b), seenA: track(net.engine(a)), seenB: track(net.engine(b)) }
}

/** A fingerprint byte (two hex digits) changed to a different one: `00` → `01`, `FF` → `00`. */
const otherByte = (hex: string) => ((Number.parseInt(hex, 16) + 1) & 0xff).toString(16).toUpperCase().padStart(2, '0')
const key = (k: { kid: bigint; baseKey: Uint8Array }) => `${k.kid}:${bytesToHex(k.baseKey)}`

describe('call engine: 1:1 outcomes on both sides', () => {
  it('A calls B, B accepts: both active; each sends with the key the other receives with; keys differ per direction', async () => {
    const { net, a, b, A, B, seenB } = await pair()
    const call = A.call(b, { video: true })
    await net.drain()
    expect(net.call(a, call.id)).toMatchObject({ phase: 'outgoing', ringing: true })
    const incoming = last(seenB, call.id)!
    expect(incoming).toMatchObject({ phase: 'incoming', contact: a, role: 'callee', video: true })
    B.accept(call.id)
    await net.drain()
    expect(net.call(a, call.id)?.phase).toBe('active')
    expect(net.call(b, call.id)?.phase).toBe('active')
    const ma = net.media.get(`${a}/${call.id}`)!
    const mb = net.media.get(`${b}/${call.id}`)!
    expect(key(ma.keys!.send)).toBe(key(mb.keys!.receive[0]!))
    expect(key(mb.keys!.send)).toBe(key(ma.keys!.receive[0]!))
    expect(key(ma.keys!.send)).not.toBe(key(mb.keys!.send))
    // The caller's candidate, gathered while its offer was made, reached the callee after the offer.
    expect(mb.candidates).toEqual([`candidate:${a} 1 udp 1 10.0.0.1 1 typ host`])
    // Another call between the same two has other keys.
    A.hangup(call.id)
    await net.drain()
    const again = A.call(b)
    await net.drain()
    B.accept(again.id)
    await net.drain()
    expect(key(net.media.get(`${a}/${again.id}`)!.keys!.send)).not.toBe(key(ma.keys!.send))
  })

  it('hang-up from the caller and from the callee end both sides', async () => {
    for (const who of ['caller', 'callee'] as const) {
      const { net, a, b, A, B, seenA, seenB } = await pair()
      const call = A.call(b)
      await net.drain()
      B.accept(call.id)
      await net.drain()
      ;(who === 'caller' ? A : B).hangup(call.id)
      await net.drain()
      expect(last(seenA, call.id)).toMatchObject({
        phase: 'ended',
        reason: who === 'caller' ? 'hangup' : 'remote-hangup'
      })
      expect(last(seenB, call.id)).toMatchObject({
        phase: 'ended',
        reason: who === 'callee' ? 'hangup' : 'remote-hangup'
      })
      expect(net.media.get(`${a}/${call.id}`)!.closed && net.media.get(`${b}/${call.id}`)!.closed).toBe(true)
      expect(A.calls().length + B.calls().length).toBe(0)
    }
  })

  it('decline: both sides end declined; the callee never made media', async () => {
    const { net, b, A, B, seenA, seenB } = await pair()
    const call = A.call(b)
    await net.drain()
    B.decline(call.id)
    await net.drain()
    expect(last(seenA, call.id)).toMatchObject({ phase: 'ended', reason: 'declined' })
    expect(last(seenB, call.id)).toMatchObject({ phase: 'ended', reason: 'declined' })
    expect(net.media.has(`${b}/${call.id}`)).toBe(false)
  })

  it('busy: B in a call with C; A calling B ends busy, B and C stay active', async () => {
    const { net, a, b, A, B, seenA } = await pair()
    const c = net.add()
    const first = net.engine(c).call(b)
    await net.drain()
    B.accept(first.id)
    await net.drain()
    const call = A.call(b)
    await net.drain()
    expect(last(seenA, call.id)).toMatchObject({ phase: 'ended', reason: 'busy' })
    expect(net.refused).toContainEqual({ at: b, reason: 'busy' })
    expect(net.call(b, first.id)?.phase).toBe('active')
    expect(() => B.call(a)).toThrow(expect.objectContaining({ code: 'Busy' }))
  })

  it('no answer: the caller ends no-answer at NO_ANSWER_TIMEOUT_MS, the callee missed', async () => {
    const { net, b, A, seenA, seenB } = await pair()
    const call = A.call(b)
    await net.drain()
    await net.advance(NO_ANSWER_TIMEOUT_MS - 1)
    expect(last(seenA, call.id)?.phase).toBe('outgoing')
    await net.advance(1)
    await net.drain()
    expect(last(seenA, call.id)).toMatchObject({ phase: 'ended', reason: 'no-answer' })
    expect(last(seenB, call.id)).toMatchObject({ phase: 'ended', reason: 'missed' })
  })

  it('the caller cancels while it rings: the callee ends missed', async () => {
    const { net, b, A, seenB } = await pair()
    const call = A.call(b)
    await net.drain()
    A.hangup(call.id)
    await net.drain()
    expect(last(seenB, call.id)).toMatchObject({ phase: 'ended', reason: 'missed' })
  })

  it('an unreachable callee: the call fails at once', async () => {
    const { net, b, A, seenA } = await pair()
    net.offline.add(b)
    const call = A.call(b)
    await net.drain()
    expect(last(seenA, call.id)).toMatchObject({ phase: 'ended', reason: 'failed' })
  })
})

describe('call engine: glare, replays, late and stale signals', () => {
  it('glare: both call at once; the higher call id wins on both sides and connects; the other ends glare', async () => {
    const { net, a, b, A, B, seenA, seenB } = await pair()
    const fromA = A.call(b)
    const fromB = B.call(a)
    await net.drain()
    // Hex of equal length: string order is byte order.
    const winner = [fromA.id, fromB.id].sort().at(-1)!
    const loser = winner === fromA.id ? fromB.id : fromA.id
    expect(net.call(a, winner)?.phase).toBe('active')
    expect(net.call(b, winner)?.phase).toBe('active')
    const loserSide = loser === fromA.id ? seenA : seenB
    expect(last(loserSide, loser)).toMatchObject({ phase: 'ended', reason: 'glare' })
    expect(A.calls().length).toBe(1)
    expect(B.calls().length).toBe(1)
  })

  it('a replayed offer after the call ended is refused; so is a late candidate; nothing rings', async () => {
    const { net, a, b, A, B } = await pair()
    const call = A.call(b)
    await net.drain()
    B.accept(call.id)
    await net.drain()
    A.hangup(call.id)
    await net.drain()
    const offer = net.delivered.find((s) => s.from === a && decodeCallSignal(s.bytes).type === 'offer')!
    const ice = net.delivered.find((s) => s.from === a && decodeCallSignal(s.bytes).type === 'ice')!
    const rings: unknown[] = []
    B.addEventListener('call', (e) => rings.push(e))
    expect(B.receive(a, offer.bytes)).toBe('replay')
    expect(B.receive(a, ice.bytes)).toBe('late')
    expect(rings).toEqual([])
    expect(B.calls()).toEqual([])
  })

  it('a replayed signal inside a running call is refused and changes nothing', async () => {
    const { net, a, b, A, B } = await pair()
    const call = A.call(b)
    await net.drain()
    const ringing = net.delivered.find((s) => s.from === b)!
    B.accept(call.id)
    await net.drain()
    expect(A.receive(b, ringing.bytes)).toBe('replay')
    // A new sequence number for an old statement does not fit the state either.
    const s = decodeCallSignal(ringing.bytes)
    expect(A.receive(b, encodeCallSignal({ ...s, seq: 99 }))).toBe('unexpected')
    expect(net.call(a, call.id)?.phase).toBe('active')
  })

  it('an offer older than MAX_OFFER_AGE_MS (a replay of an old, forgotten call) is refused as stale', async () => {
    const { net, a, b, A, B } = await pair()
    A.call(b)
    await settle()
    const offer = net.queue.shift()!
    net.now += MAX_OFFER_AGE_MS + 1
    expect(B.receive(a, offer.bytes)).toBe('stale')
    expect(B.calls()).toEqual([])
  })

  it('signals from another contact for our call are refused', async () => {
    const { net, a, b, A, B } = await pair()
    const call = A.call(b)
    await net.drain()
    const mallory = net.add()
    const hangup = encodeCallSignal({
      callId: Uint8Array.from(call.id.match(/../g)!, (h) => Number.parseInt(h, 16)),
      seq: 5,
      type: 'hangup',
      reason: 'normal',
      sentAt: net.now
    })
    expect(B.receive(mallory, hangup)).toBe('wrong-peer')
    expect(net.call(b, call.id)?.phase).toBe('incoming')
    expect(net.call(a, call.id)?.phase).toBe('outgoing')
    expect(A.calls().length).toBe(1)
  })
})

describe('call engine: fingerprints, keys, restarts, mesh', () => {
  it('an offer whose SDP fingerprint differs from the signalled one is refused (nothing rings)', async () => {
    const { net, b, A, B } = await pair()
    // The first byte of the fingerprint changed (always to another value: the certificate is random).
    net.tamper = (sdp) =>
      sdp.replace(/a=fingerprint:sha-256 (..)/, (_m, first: string) => `a=fingerprint:sha-256 ${otherByte(first)}`)
    A.call(b)
    await net.drain()
    expect(net.refused.map((r) => r.reason)).toContain('malformed')
    expect(B.calls()).toEqual([])
  })

  it('a DTLS certificate that differs from the signalled fingerprint ends the call as security on both sides', async () => {
    const { net, a, b, A, B, seenA, seenB } = await pair()
    const call = A.call(b)
    await net.drain()
    B.accept(call.id)
    await net.drain()
    const real = net.media.get(`${a}/${call.id}`)!.fp.split(' ')[1]!
    expect(B.verifyRemoteCertificate(call.id, { fingerprintAlgorithm: 'sha-256', fingerprint: real })).toBe(true)
    expect(
      B.verifyRemoteCertificate(call.id, {
        fingerprintAlgorithm: 'sha-256',
        fingerprint: real.replace(/^../, otherByte)
      })
    ).toBe(false)
    await net.drain()
    expect(last(seenB, call.id)).toMatchObject({ phase: 'ended', reason: 'security' })
    expect(last(seenA, call.id)).toMatchObject({ phase: 'ended', reason: 'security' })
  })

  it('re-key: new key ids both ways, the old receive key kept for frames in flight', async () => {
    const { net, a, b, A, B } = await pair()
    const call = A.call(b)
    await net.drain()
    B.accept(call.id)
    await net.drain()
    const ma = net.media.get(`${a}/${call.id}`)!
    const mb = net.media.get(`${b}/${call.id}`)!
    const before = key(ma.keys!.send)
    A.rekey(call.id)
    await net.drain()
    expect(ma.keys!.send.kid).toBe(2n)
    expect(mb.keys!.send.kid).toBe(3n)
    expect(key(ma.keys!.send)).not.toBe(before)
    expect(key(ma.keys!.send)).toBe(key(mb.keys!.receive[0]!))
    expect(key(mb.keys!.send)).toBe(key(ma.keys!.receive[0]!))
    expect(mb.keys!.receive.map((k) => k.kid)).toEqual([2n, 0n])
    expect(A.get(call.id)?.keyEpoch).toBe(1)
    expect(B.get(call.id)?.keyEpoch).toBe(1)
  })

  it('the caller re-keys every REKEY_INTERVAL_MS of a running call, and not before', async () => {
    const { net, b, A, B } = await pair()
    const call = A.call(b)
    await net.drain()
    B.accept(call.id)
    await net.drain()
    await net.advance(REKEY_INTERVAL_MS - 1)
    await net.drain()
    expect(A.get(call.id)?.keyEpoch).toBe(0)
    await net.advance(1)
    await net.drain()
    expect(A.get(call.id)?.keyEpoch).toBe(1)
    expect(B.get(call.id)?.keyEpoch).toBe(1)
    await net.advance(REKEY_INTERVAL_MS)
    await net.drain()
    expect(B.get(call.id)?.keyEpoch).toBe(2)
  })

  it('media lost: the caller restarts ICE, the call comes back active; a fingerprint change on restart fails closed', async () => {
    const { net, a, b, A, B, seenA, seenB } = await pair()
    const call = A.call(b)
    await net.drain()
    B.accept(call.id)
    await net.drain()
    A.transport(call.id, 'disconnected')
    B.transport(call.id, 'disconnected')
    expect(A.get(call.id)?.phase).toBe('reconnecting')
    await net.drain()
    expect(A.get(call.id)?.phase).toBe('active')
    expect(B.get(call.id)?.phase).toBe('active')
    net.media.get(`${a}/${call.id}`)!.fp = 'sha-256 00:11:22:33'
    A.restart(call.id)
    await net.drain()
    expect(last(seenB, call.id)).toMatchObject({ phase: 'ended', reason: 'security' })
    expect(last(seenA, call.id)).toMatchObject({ phase: 'ended', reason: 'security' })
  })

  it('a three-way mesh: A calls B and C; both accept; B and C connect to each other; every pair active', async () => {
    const net = new LoopNet()
    const [a, b, c] = [net.add(), net.add(), net.add()]
    const legs = net.engine(a).callGroup([b, c])
    await net.drain()
    for (const leg of legs) net.engine(leg.contact).accept(leg.id)
    await net.drain()
    const active = (x: string) =>
      net
        .engine(x)
        .calls()
        .filter((s) => s.phase === 'active')
    expect(
      active(a)
        .map((s) => s.contact)
        .sort()
    ).toEqual([b, c].sort())
    expect(
      active(b)
        .map((s) => s.contact)
        .sort()
    ).toEqual([a, c].sort())
    expect(
      active(c)
        .map((s) => s.contact)
        .sort()
    ).toEqual([a, b].sort())
    const group = legs[0]!.group!.id
    expect(active(b).every((s) => s.group?.id === group)).toBe(true)
  })

  it('a voice mesh stays voice: the legs members dial between themselves are audio calls too', async () => {
    const net = new LoopNet()
    const [a, b, c] = [net.add(), net.add(), net.add()]
    const legs = net.engine(a).callGroup([b, c], { video: false })
    await net.drain()
    for (const leg of legs) net.engine(leg.contact).accept(leg.id)
    await net.drain()
    for (const x of [a, b, c]) {
      const calls = net.engine(x).calls()
      expect(calls.filter((s) => s.phase === 'active').length).toBe(2)
      expect(calls.map((s) => s.video)).toEqual([false, false])
    }
  })
})

describe('call engine: consistency property', () => {
  it('any sequence of actions, deliveries and clock steps leaves both sides consistent once signals drain', async () => {
    type Action =
      | { k: 'call'; from: 0 | 1 }
      | { k: 'accept' | 'decline' | 'hangup' | 'restart' | 'rekey' | 'lost'; side: 0 | 1 }
      | { k: 'deliver'; n: number }
      | { k: 'replay'; i: number }
      | { k: 'time'; ms: number }
    const side = fc.constantFrom<0 | 1>(0, 1)
    const action: fc.Arbitrary<Action> = fc.oneof(
      fc.record({ k: fc.constant('call' as const), from: side }),
      fc.record({ k: fc.constantFrom('accept', 'decline', 'hangup', 'restart', 'rekey', 'lost'), side }),
      fc.record({ k: fc.constant('deliver' as const), n: fc.integer({ min: 1, max: 4 }) }),
      fc.record({ k: fc.constant('replay' as const), i: fc.nat() }),
      fc.record({ k: fc.constant('time' as const), ms: fc.integer({ min: 0, max: 50_000 }) })
    )
    await fc.assert(
      fc.asyncProperty(fc.array(action, { maxLength: 25 }), async (actions) => {
        const net = new LoopNet()
        const ids = [net.add(), net.add()] as const
        const seen = ids.map((x) => track(net.engine(x)))
        for (const act of actions) {
          try {
            if (act.k === 'call') net.engine(ids[act.from]).call(ids[1 - act.from]!)
            else if (act.k === 'deliver') for (let i = 0; i < act.n; i++) await net.deliverOne()
            else if (act.k === 'replay') {
              const s = net.delivered[act.i % Math.max(1, net.delivered.length)]
              if (s) net.engine(s.to).receive(s.from, s.bytes)
            } else if (act.k === 'time') await net.advance(act.ms)
            else {
              const e = net.engine(ids[act.side])
              for (const c of e.calls()) {
                if (act.k === 'lost') e.transport(c.id, 'disconnected')
                else e[act.k](c.id)
              }
            }
          } catch (e) {
            // Local actions that do not fit the state are typed refusals.
            expect((e as { code?: string }).code).toMatch(/InvalidState|Busy|TooManyCalls/)
          }
          await net.drain().catch(() => {})
        }
        await net.drain()
        await net.advance(10 * 60_000)
        await net.drain()
        await net.advance(10 * 60_000)
        await net.drain()
        const callIds = new Set([...seen[0]!.keys(), ...seen[1]!.keys()])
        for (const id of callIds) {
          const x = last(seen[0]!, id)
          const y = last(seen[1]!, id)
          const phases = [x?.phase ?? 'none', y?.phase ?? 'none']
          // Settled: every call is active on both sides or over wherever it exists.
          if (phases.includes('active')) {
            expect(phases).toEqual(['active', 'active'])
            const k0 = net.media.get(`${ids[0]}/${id}`)!.keys!
            const k1 = net.media.get(`${ids[1]}/${id}`)!.keys!
            expect(k0.receive.map(key)).toContain(key(k1.send))
            expect(k1.receive.map(key)).toContain(key(k0.send))
          } else {
            for (const p of phases) expect(['ended', 'none']).toContain(p)
          }
        }
        // Never two live calls between the same two people.
        expect(net.engine(ids[0]).calls().length).toBeLessThanOrEqual(1)
        expect(net.engine(ids[1]).calls().length).toBeLessThanOrEqual(1)
      }),
      { numRuns: 100 }
    )
  }, 120_000)
})

describe('call engine: limits', () => {
  const offerFor = (callId: Uint8Array, sentAt: number) =>
    encodeCallSignal({
      callId,
      seq: 1,
      type: 'offer',
      sentAt,
      sdp: 'v=0\r\na=fingerprint:sha-256 AA:BB\r\n',
      fingerprints: ['sha-256 AA:BB'],
      mediaSecret: new Uint8Array(32)
    })
  const rnd = () => crypto.getRandomValues(new Uint8Array(16))

  it('MAX_OFFER_CLOCK_SKEW_MS: an offer from further in the future is stale; just inside rings', async () => {
    const { net, a, B } = await pair()
    expect(B.receive(a, offerFor(rnd(), net.now + MAX_OFFER_CLOCK_SKEW_MS + 1))).toBe('stale')
    expect(B.receive(a, offerFor(rnd(), net.now + MAX_OFFER_CLOCK_SKEW_MS))).toBeUndefined()
    expect(B.calls().map((c) => c.phase)).toEqual(['incoming'])
  })

  it('MAX_REMEMBERED_CALLS: ended call ids are remembered up to the bound, oldest forgotten first', async () => {
    const { net, a, B } = await pair()
    const ids = Array.from({ length: MAX_REMEMBERED_CALLS + 1 }, rnd)
    // Each stale offer is refused and its id remembered as finished.
    for (const id of ids) expect(B.receive(a, offerFor(id, net.now - MAX_OFFER_AGE_MS - 1))).toBe('stale')
    const hangup = (id: Uint8Array) =>
      encodeCallSignal({ callId: id, seq: 2, type: 'hangup', reason: 'normal', sentAt: net.now })
    expect(B.receive(a, hangup(ids[0]!))).toBe('unknown-call')
    expect(B.receive(a, hangup(ids[1]!))).toBe('late')
    expect(B.receive(a, hangup(ids.at(-1)!))).toBe('late')
  })

  it('MAX_PENDING_CANDIDATES: a ringing call holds that many candidates, and refuses more', async () => {
    const { net, a, B } = await pair()
    const id = rnd()
    B.receive(a, offerFor(id, net.now))
    const ice = (seq: number) =>
      encodeCallSignal({ callId: id, seq, type: 'ice', candidate: `candidate:${seq}`, sentAt: net.now })
    for (let i = 0; i < MAX_PENDING_CANDIDATES; i++) expect(B.receive(a, ice(i + 2))).toBeUndefined()
    expect(B.receive(a, ice(MAX_PENDING_CANDIDATES + 2))).toBe('unexpected')
  })

  it('MAX_CONCURRENT_CALLS: a mesh of more is refused; a further leg of a full mesh is answered busy', async () => {
    const net = new LoopNet()
    const [a, ...others] = [net.add(), net.add(), net.add(), net.add(), net.add()]
    expect(() => net.engine(a!).callGroup(others)).toThrow(expect.objectContaining({ code: 'TooManyCalls' }))
    const legs = net.engine(a!).callGroup(others.slice(0, MAX_CONCURRENT_CALLS))
    await net.drain()
    const group = legs[0]!.group!
    const extra = encodeCallSignal({
      callId: rnd(),
      seq: 1,
      type: 'offer',
      sentAt: net.now,
      sdp: 'v=0\r\na=fingerprint:sha-256 AA:BB\r\n',
      fingerprints: ['sha-256 AA:BB'],
      mediaSecret: new Uint8Array(32),
      groupId: Uint8Array.from(group.id.match(/../g)!, (h) => Number.parseInt(h, 16))
    })
    expect(net.engine(a!).receive(others[3]!, extra)).toBe('busy')
  })
})
