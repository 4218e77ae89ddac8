/**
 * Handshake items of the security checklist (/work/shared/SECURITY-CHECKLIST.md) not covered elsewhere, on every
 * backend this runtime has: a PQXDH first message stripped to an X3DH shape (no downgrade to X3DH), low-order
 * agreement and ratchet keys and a torsioned identity key (2), a one-time KEM prekey with a bad signature (3), a sealed
 * certificate that is not the sender's (7), and simultaneous initiation with lost or repeated first messages ending
 * in one session (20). Every refusal is a typed error and leaves every stored byte as it was.
 */
import { ed25519 } from '@noble/curves/ed25519.js'
import { describe, expect, it } from 'vitest'
import {
  CONTEXT_DEVICE_CERTIFICATE,
  type DeviceCertificate,
  decodeSessionRecord,
  encodeCertificate,
  encodeSessionRecord,
  fromHex,
  ParleyCryptoError,
  parseInitialMessage,
  signBundle,
  toHex,
  validateEd25519PublicKey,
  verifyCertificate,
  verifyPrekeyBundle
} from '../src/api.ts'
import { MLKEM1024_CIPHERTEXT_BYTES } from '../src/backend/types.ts'
import { signWithContext } from '../src/keys.ts'
import { ratchetEncrypt } from '../src/ratchet.ts'
import { backendsUnderTest } from './helpers/backends.ts'
import { connectedPair, deliver, makeParty, type Party, send, TestClock, type Wire } from './helpers/parties.ts'

const backends = await backendsUnderTest()

/** A point of order 8 on Curve25519 (canonical): every clamped scalar times it is zero. */
const LOW_ORDER_X25519 = fromHex('e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800')
/** An Ed25519 point of order 8. */
const ORDER_8_ED25519 = 'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a'
/** Offset of the KEM ciphertext in an initial message: type, base key, SPK id, KEM id, flags, OPK id. */
const KEM_OFFSET = 1 + 32 + 4 + 4 + 1 + 4

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

/** Delivers `w`; a repeat of something already received is DuplicateMessage, anything else must decrypt. */
async function deliverOrDuplicate(to: Party, w: Wire): Promise<'ok' | 'duplicate'> {
  try {
    expect(await deliver(to, w)).toBe(w.text)
    return 'ok'
  } catch (e) {
    expect((e as ParleyCryptoError).code).toBe('DuplicateMessage')
    return 'duplicate'
  }
}

/** What happens to one side's first message in a simultaneous initiation. */
type Fate = 'lost' | 'once' | 'twice' | 'late'
const FATES: readonly Fate[] = ['lost', 'once', 'twice', 'late']

describe.each(backends.map((b) => [b.name, b] as const))('handshake on %s', (_name, backend) => {
  it('a PQXDH first message stripped to an X3DH shape (KEM ciphertext removed, zeroed or cut off) is refused typed, nothing changes, and the genuine one then decrypts', async () => {
    const clock = new TestClock()
    const a = await makeParty('a', backend, { clock })
    const b = await makeParty('b', backend, { clock })
    await a.manager.startSession(await b.bundle())
    const w = await send(a, b, 'post-quantum')
    const bytes = w.ciphertext
    expect(parseInitialMessage(bytes).kemCiphertext).toEqual(
      bytes.subarray(KEM_OFFSET, KEM_OFFSET + MLKEM1024_CIPHERTEXT_BYTES)
    )
    const withoutKem = new Uint8Array([
      ...bytes.subarray(0, KEM_OFFSET),
      ...bytes.subarray(KEM_OFFSET + MLKEM1024_CIPHERTEXT_BYTES)
    ])
    const zeroKem = bytes.slice()
    zeroKem.fill(0, KEM_OFFSET, KEM_OFFSET + MLKEM1024_CIPHERTEXT_BYTES)
    const classicalOnly = bytes.slice(0, KEM_OFFSET)
    // The flags byte says which KEM prekey was used; clearing it claims the last-resort key with a one-time ciphertext.
    const otherKemFlag = bytes.slice()
    otherKemFlag[1 + 32 + 4 + 4]! ^= 1
    const snapshot = persisted(b)
    for (const [what, forged] of [
      ['KEM ciphertext removed', withoutKem],
      ['KEM ciphertext zeroed', zeroKem],
      ['nothing after the classical fields', classicalOnly],
      ['KEM prekey kind flipped', otherKemFlag]
    ] as const) {
      const err = await failure(b.manager.decrypt(forged, { messageId: w.messageId }))
      expect(['Malformed', 'SealedSenderFailure', 'UnknownPrekey'], what).toContain(err.code)
      expect(persisted(b), what).toBe(snapshot)
    }
    expect(await deliver(b, w)).toBe('post-quantum')
  })

  it('a correctly signed certificate with a low-order agreement key (IK) is refused, in a bundle before any DH, nothing stored', async () => {
    const a = await makeParty('a', backend)
    const b = await makeParty('b', backend, { clock: a.clock })
    const pb = await b.bundle()
    const identity = b.manager.account.identity
    const genuine = pb.bundle.certificate
    const unsigned = { ...genuine, agreementKey: LOW_ORDER_X25519, signature: new Uint8Array(64) }
    const body = encodeCertificate(unsigned).subarray(0, -64)
    const lowIk: DeviceCertificate = {
      ...unsigned,
      signature: await signWithContext(backend, identity.secretKey, CONTEXT_DEVICE_CERTIFICATE, body)
    }
    expect((await failure(verifyCertificate(backend, lowIk, a.clock.now()))).code).toBe('InvalidKey')
    const { signature: _s, version: _v, ...rest } = pb.bundle
    const bundle = await signBundle(backend, identity.secretKey, { ...rest, certificate: lowIk })
    const snapshot = persisted(a)
    expect((await failure(a.manager.startSession({ ...pb, bundle }))).code).toBe('InvalidKey')
    expect(persisted(a)).toBe(snapshot)
  })

  it('a torsioned identity key (a genuine key plus a point of order 8) is refused as InvalidKey, before any signature check', async () => {
    const b = await makeParty('b', backend)
    const pb = await b.bundle()
    const genuine = ed25519.Point.fromBytes(pb.bundle.identityKey)
    const torsioned = genuine.add(ed25519.Point.fromBytes(fromHex(ORDER_8_ED25519))).toBytes()
    expect(() => validateEd25519PublicKey('identity key', torsioned)).toThrow(
      expect.objectContaining({ code: 'InvalidKey' })
    )
    validateEd25519PublicKey('identity key', pb.bundle.identityKey)
    const forged = { ...pb, bundle: { ...pb.bundle, identityKey: torsioned } }
    expect((await failure(verifyPrekeyBundle(backend, forged, b.clock.now()))).code).toBe('InvalidKey')
  })

  it('a peer whose ratchet header names a low-order ratchet key gets InvalidKey; nothing changes and the genuine next message decrypts', async () => {
    const [a, b] = await connectedPair(backend)
    // A's next message starts a new chain (B answered), so B takes a DH step with the key the header names.
    const record = decodeSessionRecord(a.store.records.get(b.manager.address)!)
    const s = record.current!
    const evil = { ...s.ratchet, sendRatchetKey: { ...s.ratchet.sendRatchetKey, publicKey: LOW_ORDER_X25519 } }
    const id = new Uint8Array(16).fill(9)
    const { frame } = await ratchetEncrypt(backend, evil, new Uint8Array(4), s.associatedData, id, s.version)
    const snapshot = persisted(b)
    const err = await failure(b.manager.decrypt(frame, { messageId: id, address: a.manager.address }))
    expect(err.code).toBe('InvalidKey')
    expect(persisted(b)).toBe(snapshot)
    expect(encodeSessionRecord(decodeSessionRecord(a.store.records.get(b.manager.address)!))).toEqual(
      a.store.records.get(b.manager.address)
    )
    expect(await deliver(b, await send(a, b, 'genuine'))).toBe('genuine')
  })

  it('a one-time KEM prekey with a bad signature is refused before any KEM, nothing stored', async () => {
    const a = await makeParty('a', backend)
    const b = await makeParty('b', backend, { clock: a.clock })
    const pb = await b.bundle()
    const kem = pb.oneTimeKemPrekey!
    const snapshot = persisted(a)
    const badSignature = { ...kem, signature: kem.signature.map((x, i) => (i === 0 ? x ^ 1 : x)) }
    expect((await failure(a.manager.startSession({ ...pb, oneTimeKemPrekey: badSignature }))).code).toBe(
      'InvalidSignature'
    )
    const swappedKey = { ...kem, publicKey: kem.publicKey.map((x, i) => (i === 100 ? x ^ 1 : x)) }
    expect((await failure(a.manager.startSession({ ...pb, oneTimeKemPrekey: swappedKey }))).code).toBe(
      'InvalidSignature'
    )
    // The X25519 one-time prekey's (valid) signature does not make a KEM prekey valid: the contexts differ.
    const crossed = { ...kem, signature: pb.oneTimePrekey!.signature }
    expect((await failure(a.manager.startSession({ ...pb, oneTimeKemPrekey: crossed }))).code).toBe('InvalidSignature')
    expect(persisted(a)).toBe(snapshot)
  })

  it("a first message sealing someone else's genuine certificate (Mallory claims to be Carol) fails on the key binding; nothing stored, no prekey consumed", async () => {
    const clock = new TestClock()
    const b = await makeParty('b', backend, { clock })
    const carol = await makeParty('carol', backend, { clock })
    const mallory = await makeParty('mallory', backend, { clock })
    // Mallory holds Carol's public certificate but only her own agreement key.
    const { createSessionManager } = await import('../src/api.ts')
    const posing = createSessionManager({
      backend,
      account: {
        ...mallory.manager.account,
        device: {
          certificate: carol.manager.account.device.certificate,
          agreementKeyPair: mallory.manager.account.device.agreementKeyPair
        }
      },
      store: mallory.store,
      now: clock.now
    })
    await posing.startSession(await b.bundle())
    const id = new Uint8Array(16).fill(3)
    const { ciphertext } = await posing.encrypt(b.manager.address, new TextEncoder().encode('I am Carol'), {
      messageId: id
    })
    const snapshot = persisted(b)
    const err = await failure(b.manager.decrypt(ciphertext, { messageId: id }))
    expect(['UndecryptableHeader', 'UndecryptableBody']).toContain(err.code)
    expect(persisted(b)).toBe(snapshot)
  })

  describe('simultaneous initiation ends in one session, whatever happens to each first message', () => {
    for (const fateA of FATES) {
      for (const fateB of FATES) {
        it(`A's first message ${fateA}, B's ${fateB}`, async () => {
          const clock = new TestClock()
          const a = await makeParty('a', backend, { clock })
          const b = await makeParty('b', backend, { clock })
          await a.manager.startSession(await b.bundle())
          await b.manager.startSession(await a.bundle())
          const firstA = await send(a, b, 'first from a')
          const firstB = await send(b, a, 'first from b')
          const now = async (fate: Fate, to: Party, w: Wire) => {
            if (fate === 'once' || fate === 'twice') expect(await deliverOrDuplicate(to, w)).toBe('ok')
          }
          const later = async (fate: Fate, to: Party, w: Wire) => {
            if (fate === 'twice') {
              // A repeat after the conversation moved on: DuplicateMessage (never a reset signal), nothing stored.
              const snapshot = persisted(to)
              expect(await deliverOrDuplicate(to, w)).toBe('duplicate')
              expect(persisted(to)).toBe(snapshot)
            }
            if (fate === 'late') expect(await deliverOrDuplicate(to, w)).toBe('ok')
          }
          await now(fateA, b, firstA)
          await now(fateB, a, firstB)
          // A conversation: every message must decrypt on arrival, whichever session it was sent on.
          const round = async (tag: string) => {
            expect(await deliver(b, await send(a, b, `${tag} a`))).toBe(`${tag} a`)
            expect(await deliver(a, await send(b, a, `${tag} b`))).toBe(`${tag} b`)
          }
          for (let i = 0; i < 2; i++) await round(`before ${i}`)
          await later(fateA, b, firstA)
          await later(fateB, a, firstB)
          for (let i = 0; i < 2; i++) await round(`after ${i}`)
          const id = await sessionId(a, b)
          expect(id).toBeDefined()
          expect(await sessionId(b, a)).toBe(id)
          expect((await a.manager.sessionInfo(b.manager.address))?.acknowledged).toBe(true)
          expect((await b.manager.sessionInfo(a.manager.address))?.acknowledged).toBe(true)
        })
      }
    }
  })
})
