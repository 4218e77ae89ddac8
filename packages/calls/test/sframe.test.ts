/**
 * SFrame (RFC 9605): the RFC's test vectors (header codec, and cipher suite 4 AES_128_GCM_SHA256_128 end to end),
 * then what our sender and receiver add: counters never repeat, replays and frames outside the window are refused,
 * a wrong key or a flipped bit fails, old keys drop past the bound.
 */
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MAX_SFRAME_FRAME_BYTES, SFRAME_CIPHER_SUITE, SFRAME_REPLAY_WINDOW } from '../src/constants.ts'
import {
  decodeHeader,
  deriveKeyAndSalt,
  encodeHeader,
  importSframeKey,
  nonceFor,
  SframeReceiver,
  SframeSender,
  sframeDecrypt,
  sframeEncrypt
} from '../src/sframe.ts'
import vectorsText from './vectors/rfc9605-test-vectors.json?raw'

interface HeaderVector {
  kid: bigint
  ctr: bigint
  encoded: string
}
interface SframeVector {
  cipher_suite: bigint
  kid: bigint
  ctr: bigint
  base_key: string
  sframe_key_label: string
  sframe_salt_label: string
  sframe_secret: string
  sframe_key: string
  sframe_salt: string
  metadata: string
  nonce: string
  aad: string
  pt: string
  ct: string
}

// Integers as BigInt from their source text: key ids and counters go up to 2^64 - 1.
const vectors = JSON.parse(vectorsText, (_k, v, ctx?: { source?: string }) =>
  typeof v === 'number' ? BigInt(ctx!.source!) : v
) as { header: HeaderVector[]; sframe: SframeVector[] }

describe('SFrame against RFC 9605 test vectors', () => {
  it(`encodes and decodes all ${vectors.header.length} header vectors`, () => {
    expect(vectors.header.length).toBe(289)
    for (const v of vectors.header) {
      expect(bytesToHex(encodeHeader(v.kid, v.ctr))).toBe(v.encoded)
      expect(decodeHeader(hexToBytes(v.encoded))).toEqual({ kid: v.kid, ctr: v.ctr, length: v.encoded.length / 2 })
    }
  })

  it('AES_128_GCM_SHA256_128: key, salt, nonce and ciphertext match; the ciphertext decrypts', async () => {
    const v = vectors.sframe.find((x) => x.cipher_suite === BigInt(SFRAME_CIPHER_SUITE))!
    expect(v).toBeDefined()
    const base = hexToBytes(v.base_key)
    const { key, salt } = deriveKeyAndSalt(base, v.kid)
    expect(bytesToHex(key)).toBe(v.sframe_key)
    expect(bytesToHex(salt)).toBe(v.sframe_salt)
    expect(bytesToHex(nonceFor(salt, v.ctr))).toBe(v.nonce)
    const k = await importSframeKey(base, v.kid)
    const ct = await sframeEncrypt(k, v.ctr, hexToBytes(v.pt), hexToBytes(v.metadata))
    expect(bytesToHex(ct)).toBe(v.ct)
    const header = encodeHeader(v.kid, v.ctr)
    expect(bytesToHex(header) + v.metadata).toBe(v.aad)
    const opened = await sframeDecrypt(k, hexToBytes(v.ct), hexToBytes(v.metadata))
    expect(bytesToHex(opened.plaintext)).toBe(v.pt)
    expect(opened.ctr).toBe(v.ctr)
  })
})

describe('SFrame sender and receiver', () => {
  const base = new Uint8Array(16).fill(3)

  it('a flipped bit anywhere, wrong metadata or a wrong key fails with a typed error', async () => {
    const k = await importSframeKey(base, 5n)
    const pt = new TextEncoder().encode('a frame of media')
    const ct = await sframeEncrypt(k, 9n, pt, new Uint8Array([1, 2]))
    for (let i = 1; i < ct.length; i++) {
      const bad = ct.slice()
      bad[i]! ^= 0x01
      await expect(sframeDecrypt(k, bad, new Uint8Array([1, 2]))).rejects.toMatchObject({ code: expect.any(String) })
    }
    await expect(sframeDecrypt(k, ct, new Uint8Array([1, 3]))).rejects.toMatchObject({ code: 'SframeDecrypt' })
    const other = await importSframeKey(new Uint8Array(16).fill(4), 5n)
    await expect(sframeDecrypt(other, ct, new Uint8Array([1, 2]))).rejects.toMatchObject({ code: 'SframeDecrypt' })
  })

  it('counters never repeat; a replayed frame and one behind the window are refused', async () => {
    const sender = new SframeSender()
    sender.setKey(await importSframeKey(base, 2n))
    const receiver = new SframeReceiver(2)
    receiver.addKey(await importSframeKey(base, 2n))
    const frames: Uint8Array[] = []
    for (let i = 0; i < SFRAME_REPLAY_WINDOW + 2; i++) frames.push(await sender.encrypt(new Uint8Array([i & 0xff])))
    const ctrs = frames.map((f) => decodeHeader(f).ctr)
    expect(new Set(ctrs).size).toBe(frames.length)
    // Out of order within the window is fine.
    expect(await receiver.decrypt(frames[1]!)).toEqual(new Uint8Array([1]))
    expect(await receiver.decrypt(frames[0]!)).toEqual(new Uint8Array([0]))
    // A second, byte-identical copy is a duplicate; another frame under a counter already used is a replay.
    await expect(receiver.decrypt(frames[1]!)).rejects.toMatchObject({ code: 'SframeDuplicate' })
    const reuse = new SframeSender()
    reuse.setKey(await importSframeKey(base, 2n))
    await reuse.encrypt(new Uint8Array([0]))
    const sameCounter = await reuse.encrypt(new Uint8Array([0xee]))
    expect(decodeHeader(sameCounter).ctr).toBe(ctrs[1])
    await expect(receiver.decrypt(sameCounter)).rejects.toMatchObject({ code: 'SframeReplay' })
    const alteredTag = frames[0]!.slice()
    alteredTag[alteredTag.length - 1]! ^= 1
    await expect(receiver.decrypt(alteredTag)).rejects.toMatchObject({ code: 'SframeReplay' })
    await receiver.decrypt(frames[SFRAME_REPLAY_WINDOW + 1]!)
    // Counters 0 and 1 are now a whole window behind the highest: refused; 2 is just inside and was never seen.
    await expect(receiver.decrypt(frames[0]!)).rejects.toMatchObject({ code: 'SframeReplay' })
    await expect(receiver.decrypt(frames[1]!)).rejects.toMatchObject({ code: 'SframeReplay' })
    expect(await receiver.decrypt(frames[2]!)).toEqual(new Uint8Array([2]))
  })

  it('a forged frame does not move the replay window', async () => {
    const sender = new SframeSender()
    sender.setKey(await importSframeKey(base, 1n))
    const receiver = new SframeReceiver(2)
    receiver.addKey(await importSframeKey(base, 1n))
    const f0 = await sender.encrypt(new Uint8Array([7]))
    const forged = new Uint8Array([...encodeHeader(1n, 5000n), ...new Uint8Array(20)])
    await expect(receiver.decrypt(forged)).rejects.toMatchObject({ code: 'SframeDecrypt' })
    expect(await receiver.decrypt(f0)).toEqual(new Uint8Array([7]))
  })

  it('the receiver keeps the newest keys up to its bound; a dropped key id is unknown', async () => {
    const receiver = new SframeReceiver(2)
    for (const kid of [0n, 2n, 4n]) receiver.addKey(await importSframeKey(base, kid))
    expect(receiver.kids).toEqual([4n, 2n])
    const old = await sframeEncrypt(await importSframeKey(base, 0n), 0n, new Uint8Array([1]))
    await expect(receiver.decrypt(old)).rejects.toMatchObject({ code: 'SframeUnknownKey' })
  })

  it('MAX_SFRAME_FRAME_BYTES: a larger frame is refused before encryption', async () => {
    const k = await importSframeKey(base, 1n)
    await expect(sframeEncrypt(k, 0n, new Uint8Array(MAX_SFRAME_FRAME_BYTES))).resolves.toBeInstanceOf(Uint8Array)
    await expect(sframeEncrypt(k, 0n, new Uint8Array(MAX_SFRAME_FRAME_BYTES + 1))).rejects.toMatchObject({
      code: 'InvalidParameter'
    })
  })

  it('header codec: any key id and counter round-trip (property)', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        (kid, ctr) => {
          const h = encodeHeader(kid, ctr)
          expect(decodeHeader(h)).toEqual({ kid, ctr, length: h.length })
        }
      ),
      { numRuns: 2000 }
    )
  })
})
