/**
 * Identities, device certificates, bundles, version negotiation, key validation and safety numbers, on every
 * backend this runtime has. A bundle that fails any check is refused before any DH or KEM and nothing is stored.
 */
import { describe, expect, it } from 'vitest'
import {
  type Bundle,
  CONTEXT_BUNDLE,
  certifyDevice,
  decodeCertificate,
  decodePrekeyBundle,
  encodeCertificate,
  encodePrekeyBundle,
  generateIdentity,
  MESSAGE_TYPE_RATCHET,
  matchesSafetyQr,
  negotiateVersion,
  ParleyCryptoError,
  type PrekeyBundle,
  safetyNumber,
  signBundle,
  signOneTimePrekey,
  validateEd25519PublicKey,
  validateX25519PublicKey,
  verifyCertificate,
  verifyPrekeyBundle
} from '../src/api.ts'
import { fromHex } from '../src/codec.ts'
import { backendsUnderTest } from './helpers/backends.ts'
import { connectedPair, DAY, makeParty, messageId, TestClock } from './helpers/parties.ts'

const backends = await backendsUnderTest()

// Curve25519 points of small order (and the all-zero key); Ed25519 encodings of small-order points.
const LOW_ORDER_X25519 = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
  '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'
]
const NON_CANONICAL_X25519 = [
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // p
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // p + 1
  '0900000000000000000000000000000000000000000000000000000000000080' // top bit set
]
const LOW_ORDER_ED25519 = [
  '0100000000000000000000000000000000000000000000000000000000000000', // identity
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // order 2
  '0000000000000000000000000000000000000000000000000000000000000000', // order 4
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a' // order 8
]

async function code(p: Promise<unknown>): Promise<string> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err
  )
  expect(e).toBeInstanceOf(ParleyCryptoError)
  return (e as ParleyCryptoError).code
}

describe.each(backends.map((b) => [b.name, b] as const))('bundles and identities on %s', (_name, backend) => {
  async function resigned(pb: PrekeyBundle, secret: Uint8Array, change: Partial<Bundle>): Promise<PrekeyBundle> {
    const { signature: _s, version: _v, ...body } = { ...pb.bundle, ...change }
    return { ...pb, bundle: await signBundle(backend, secret, body) }
  }

  it('a genuine bundle verifies and survives its byte form', async () => {
    const b = await makeParty('b', backend)
    const pb = await b.bundle()
    const round = decodePrekeyBundle(encodePrekeyBundle(pb))
    expect(encodePrekeyBundle(round)).toEqual(encodePrekeyBundle(pb))
    expect(await verifyPrekeyBundle(backend, round, b.clock.now())).toBe(1)
  })

  it('a forged bundle signature is refused before any DH or KEM, and nothing is stored', async () => {
    const a = await makeParty('a', backend)
    const b = await makeParty('b', backend, { clock: a.clock })
    const pb = await b.bundle()
    const sig = pb.bundle.signature.slice()
    sig[0]! ^= 1
    const commits = a.store.commits
    expect(await code(a.manager.startSession({ ...pb, bundle: { ...pb.bundle, signature: sig } }))).toBe(
      'InvalidSignature'
    )
    // A swapped signed prekey or last-resort KEM prekey breaks the same signature.
    const spk = pb.bundle.signedPrekey.publicKey.slice()
    spk[3]! ^= 1
    expect(
      await code(a.manager.startSession({ ...pb, bundle: { ...pb.bundle, signedPrekey: { id: 1, publicKey: spk } } }))
    ).toBe('InvalidSignature')
    const kem = pb.bundle.lastResortKemPrekey.publicKey.slice()
    kem[9]! ^= 1
    expect(
      await code(
        a.manager.startSession({ ...pb, bundle: { ...pb.bundle, lastResortKemPrekey: { id: 2, publicKey: kem } } })
      )
    ).toBe('InvalidSignature')
    // A one-time prekey with a bad signature too.
    const otp = pb.oneTimePrekey!
    const badOtp = { ...otp, signature: otp.signature.map((x, i) => (i === 5 ? x ^ 1 : x)) }
    expect(await code(a.manager.startSession({ ...pb, oneTimePrekey: badOtp }))).toBe('InvalidSignature')
    expect(a.store.commits).toBe(commits)
    expect(a.store.records.size).toBe(0)
  })

  it('a device certificate not signed by the identity is refused', async () => {
    const clock = new TestClock()
    const b = await makeParty('b', backend, { clock })
    const mallory = await generateIdentity(backend)
    const pb = await b.bundle()
    // Mallory certifies a device of her own but names B's identity in it.
    const forged = await certifyDevice(backend, mallory, {
      deviceKey: new Uint8Array([1, 2, 3]),
      issuedAt: clock.now(),
      expiresAt: clock.now() + DAY
    })
    const claimed = { ...forged.certificate, identityKey: b.manager.account.identity.publicKey }
    expect(await code(verifyCertificate(backend, claimed, clock.now()))).toBe('UntrustedDevice')
    const withForged = await resigned(pb, b.manager.account.identity.secretKey, { certificate: forged.certificate })
    expect(await code(verifyPrekeyBundle(backend, withForged, clock.now()))).toBe('UntrustedDevice')
    // An expired certificate and an expired bundle are refused too.
    expect(await code(verifyPrekeyBundle(backend, pb, clock.now() + 400 * DAY))).toBe('Expired')
  })

  it('a bundle of another identity than expected is refused', async () => {
    const a = await makeParty('a', backend)
    const b = await makeParty('b', backend, { clock: a.clock })
    const c = await makeParty('c', backend, { clock: a.clock })
    const err = await code(
      a.manager.startSession(await c.bundle(), { expectedIdentity: b.manager.account.identity.publicKey })
    )
    expect(err).toBe('UntrustedIdentity')
  })

  it('downgrade below the minimum version is refused, in bundles and in messages', async () => {
    const [a, b] = await connectedPair(backend)
    expect(negotiateVersion([3, 1, 2])).toBe(1)
    expect(() => negotiateVersion([0])).toThrow(expect.objectContaining({ code: 'UnsupportedVersion' }))
    const pb = await b.bundle()
    const old = await resigned(pb, b.manager.account.identity.secretKey, { protocolVersions: [0] })
    expect(await code(verifyPrekeyBundle(backend, old, b.clock.now()))).toBe('UnsupportedVersion')
    const { ciphertext } = await a.manager.encrypt(b.manager.address, new Uint8Array(10))
    const downgraded = ciphertext.slice()
    downgraded[0] = (0 << 4) | MESSAGE_TYPE_RATCHET
    expect(await code(b.manager.decrypt(downgraded, { messageId: messageId(), address: a.manager.address }))).toBe(
      'UnsupportedVersion'
    )
  })

  it('low-order and non-canonical points are refused everywhere a public key enters', async () => {
    for (const hex of [...LOW_ORDER_X25519, ...NON_CANONICAL_X25519]) {
      expect(() => validateX25519PublicKey('key', fromHex(hex)), hex).toThrow(
        expect.objectContaining({ code: 'InvalidKey' })
      )
      // Ephemeral DH outputs are checked for all-zero results by every backend.
      if (LOW_ORDER_X25519.includes(hex)) {
        expect(await code(backend.x25519(backend.randomBytes(32), fromHex(hex)))).toBe('InvalidKey')
      }
    }
    for (const hex of LOW_ORDER_ED25519) {
      expect(() => validateEd25519PublicKey('identity', fromHex(hex)), hex).toThrow(
        expect.objectContaining({ code: 'InvalidKey' })
      )
    }
    const a = await makeParty('a', backend)
    const b = await makeParty('b', backend, { clock: a.clock })
    const pb = await b.bundle()
    const secret = b.manager.account.identity.secretKey
    const lowSpk = await resigned(pb, secret, { signedPrekey: { id: 1, publicKey: fromHex(LOW_ORDER_X25519[2]!) } })
    expect(await code(a.manager.startSession(lowSpk))).toBe('InvalidKey')
    const lowOtp = await signOneTimePrekey(backend, secret, {
      kind: 'x25519',
      id: 99,
      publicKey: fromHex(LOW_ORDER_X25519[3]!)
    })
    expect(await code(a.manager.startSession({ ...pb, oneTimePrekey: lowOtp }))).toBe('InvalidKey')
    // A low-order base key in an initial message.
    await a.manager.startSession(await b.bundle())
    const { ciphertext, messageId: id } = await a.manager.encrypt(b.manager.address, new Uint8Array(5))
    const forged = ciphertext.slice()
    forged.set(fromHex(LOW_ORDER_X25519[1]!), 1)
    expect(await code(b.manager.decrypt(forged, { messageId: id }))).toBe('InvalidKey')
  })

  it('signatures are bound to their context: a certificate signature is not a bundle signature', async () => {
    const b = await makeParty('b', backend)
    const pb = await b.bundle()
    const cert = pb.bundle.certificate
    expect(CONTEXT_BUNDLE).not.toBe('')
    // Put the certificate's (valid) signature where the bundle's goes.
    expect(
      await code(
        verifyPrekeyBundle(backend, { ...pb, bundle: { ...pb.bundle, signature: cert.signature } }, b.clock.now())
      )
    ).toBe('InvalidSignature')
    const round = decodeCertificate(encodeCertificate(cert))
    await verifyCertificate(backend, round, b.clock.now())
  })

  it('safety numbers: 60 digits, the same on both sides, changed by either identity, with a matching QR payload', async () => {
    const alice = await generateIdentity(backend)
    const bob = await generateIdentity(backend)
    const carol = await generateIdentity(backend)
    const ab = await safetyNumber(backend, alice.publicKey, bob.publicKey)
    const ba = await safetyNumber(backend, bob.publicKey, alice.publicKey)
    expect(ab.digits).toMatch(/^\d{60}$/)
    expect(ab.display.split(' ')).toHaveLength(12)
    expect(ba.digits).toBe(ab.digits)
    expect(matchesSafetyQr(ab, ba.qrPayload)).toBe(true)
    const ac = await safetyNumber(backend, alice.publicKey, carol.publicKey)
    const cb = await safetyNumber(backend, carol.publicKey, bob.publicKey)
    expect(ac.digits).not.toBe(ab.digits)
    expect(cb.digits).not.toBe(ab.digits)
    expect(matchesSafetyQr(ab, ac.qrPayload)).toBe(false)
    expect(() => matchesSafetyQr(ab, new Uint8Array(10))).toThrow(expect.objectContaining({ code: 'Malformed' }))
  })
})
