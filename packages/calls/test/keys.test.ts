/**
 * Media keys and fingerprints: keys differ per call, per direction and per epoch, need both sides' secrets, and a
 * re-key must name the next epoch; SDP fingerprints parse, normalise, compare, and mismatches fail closed.
 */
import { describe, expect, it } from 'vitest'
import { CallKeySchedule, keyId } from '../src/keys.ts'
import { checkRemoteCertificate, checkSignalledDescription, sameFingerprints, sdpFingerprints } from '../src/sdp.ts'

const rnd = (n: number) => crypto.getRandomValues(new Uint8Array(n))
const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')
const alice = rnd(32)
const bob = rnd(32)

function keyed(callId = rnd(16), offer = rnd(32), answer = rnd(32)) {
  const a = new CallKeySchedule(callId, alice, bob, true)
  const b = new CallKeySchedule(callId, alice, bob, false)
  a.start(offer, answer)
  b.start(offer, answer)
  return { a, b }
}

describe('media keys', () => {
  it('both sides agree; the two directions, two calls and each secret give different keys', () => {
    const offer = rnd(32)
    const answer = rnd(32)
    const { a, b } = keyed(rnd(16), offer, answer)
    expect(hex(a.keys().send.baseKey)).toBe(hex(b.keys().receive[0]!.baseKey))
    expect(hex(b.keys().send.baseKey)).toBe(hex(a.keys().receive[0]!.baseKey))
    expect(a.keys().send.kid).toBe(keyId(0, true))
    expect(b.keys().send.kid).toBe(keyId(0, false))
    expect(hex(a.keys().send.baseKey)).not.toBe(hex(b.keys().send.baseKey))
    const other = keyed(rnd(16), offer, answer)
    expect(hex(other.a.keys().send.baseKey)).not.toBe(hex(a.keys().send.baseKey))
    const otherAnswer = keyed(rnd(16), offer, rnd(32))
    expect(hex(otherAnswer.a.keys().send.baseKey)).not.toBe(hex(a.keys().send.baseKey))
  })

  it('a re-key gives new key ids and keys; only the next epoch is accepted; old receive keys drop past the bound', () => {
    const { a, b } = keyed()
    const before = hex(a.keys().send.baseKey)
    const s1 = rnd(32)
    expect(() => a.rekey(2, s1)).toThrow(/epoch/)
    a.rekey(1, s1)
    b.rekey(1, s1)
    a.sendWith(1)
    b.sendWith(1)
    expect(a.keys().send.kid).toBe(2n)
    expect(hex(a.keys().send.baseKey)).not.toBe(before)
    expect(hex(a.keys().send.baseKey)).toBe(hex(b.keys().receive[0]!.baseKey))
    const s2 = rnd(32)
    a.rekey(2, s2)
    expect(a.keys().receive.map((k) => k.kid)).toEqual([5n, 3n])
  })

  it('wrong lengths are typed errors', () => {
    expect(() => new CallKeySchedule(rnd(15), alice, bob, true)).toThrow(
      expect.objectContaining({ code: 'InvalidParameter' })
    )
    const s = new CallKeySchedule(rnd(16), alice, bob, true)
    expect(() => s.start(rnd(31), rnd(32))).toThrow(expect.objectContaining({ code: 'InvalidParameter' }))
    expect(() => s.keys()).toThrow(expect.objectContaining({ code: 'InvalidState' }))
  })
})

describe('DTLS fingerprints', () => {
  const sdp =
    'v=0\r\na=fingerprint:SHA-256 ab:CD:01\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=fingerprint:sha-256 AB:CD:01\r\n'

  it('parses, normalises and de-duplicates a=fingerprint lines', () => {
    expect(sdpFingerprints(sdp)).toEqual(['sha-256 AB:CD:01'])
    expect(sameFingerprints(['sha-256 ab:cd:01'], ['SHA-256 AB:CD:01'])).toBe(true)
  })

  it('a signal whose fingerprints differ from its SDP, or that change mid-call, fails closed', () => {
    expect(checkSignalledDescription(sdp, ['sha-256 AB:CD:01'])).toEqual(['sha-256 AB:CD:01'])
    expect(() => checkSignalledDescription(sdp, ['sha-256 AB:CD:02'])).toThrow(
      expect.objectContaining({ code: 'FingerprintMismatch' })
    )
    expect(() => checkSignalledDescription('v=0\r\n', [])).toThrow(
      expect.objectContaining({ code: 'FingerprintMismatch' })
    )
    expect(() => checkSignalledDescription(sdp, ['sha-256 AB:CD:01'], ['sha-256 00:00:00'])).toThrow(/changed/)
  })

  it("the peer's DTLS certificate must be one it signalled", () => {
    expect(() =>
      checkRemoteCertificate({ fingerprintAlgorithm: 'sha-256', fingerprint: 'ab:cd:01' }, ['sha-256 AB:CD:01'])
    ).not.toThrow()
    expect(() =>
      checkRemoteCertificate({ fingerprintAlgorithm: 'sha-256', fingerprint: 'AB:CD:02' }, ['sha-256 AB:CD:01'])
    ).toThrow(expect.objectContaining({ code: 'FingerprintMismatch' }))
    expect(() =>
      checkRemoteCertificate({ fingerprintAlgorithm: 'sha-1', fingerprint: 'AB:CD:01' }, ['sha-256 AB:CD:01'])
    ).toThrow()
    expect(() => checkRemoteCertificate({ fingerprintAlgorithm: '', fingerprint: '' }, ['sha-256 AB:CD:01'])).toThrow()
  })
})
