/**
 * The backends must be interchangeable: the same keys from the same seeds, output of one accepted by the others,
 * and the same typed errors for the same bad input. Runs in Node (node, webcrypto, noble) and in Chromium
 * (webcrypto, noble); ML-KEM also on the WebCrypto backend over a WebCrypto without ML-KEM (the fallback found by
 * feature detection) and with its @noble fallback forced, whatever this runtime's WebCrypto has.
 */
import { describe, expect, it } from 'vitest'
import { nobleBackend } from '../src/backend/noble.ts'
import type { CryptoBackend } from '../src/backend/types.ts'
import { createWebCryptoBackend, webCryptoBackend, webCryptoHasMlKem1024 } from '../src/backend/webcrypto.ts'
import { AeadError, InvalidKeyError, InvalidParameterError } from '../src/errors.ts'
import { backendsUnderTest, isNode, mlKemBackendsUnderTest, subtleWithoutMlKem } from './helpers/backends.ts'
import { hex, toHex } from './helpers/wycheproof.ts'

const backends = await backendsUnderTest()
const kemBackends = await mlKemBackendsUnderTest()
const names = backends.map((b) => b.name).join(', ')

/** Deterministic, distinct-per-tag test bytes. */
function bytes(length: number, tag: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 31 + tag * 101 + 7) & 0xff)
}

/** Runs `f` on every backend and returns the results as hex, in backend order. */
async function onEach(list: readonly CryptoBackend[], f: (b: CryptoBackend) => Promise<Uint8Array>): Promise<string[]> {
  const out: string[] = []
  for (const b of list) out.push(toHex(await f(b)))
  return out
}

const kemOnly = kemBackends.map((k) => k.backend)
const kemNames = kemBackends.map((k) => k.label).join(', ')

describe('the backends under test', () => {
  it(`are ${isNode() ? 'node, webcrypto and noble in Node' : 'webcrypto and noble in the browser'}`, () => {
    expect(backends.map((b) => b.name)).toEqual(isNode() ? ['node', 'webcrypto', 'noble'] : ['webcrypto', 'noble'])
  })
})

// Whether WebCrypto has ML-KEM-1024 differs between browsers and between builds of one browser (Debian's Chromium
// 150 has none, 156 has it): the suite asserts what the backend does with either answer, never the answer itself.
const nativeMlKem = await webCryptoHasMlKem1024()

describe('ML-KEM-1024 feature detection in the webcrypto backend', () => {
  it('a WebCrypto without encapsulateBits/decapsulateBits is detected as lacking ML-KEM-1024', async () => {
    expect(await webCryptoHasMlKem1024(subtleWithoutMlKem('methods'))).toBe(false)
  })

  it('a WebCrypto with the methods but refusing the ML-KEM-1024 algorithm (NotSupportedError) is detected as lacking it', async () => {
    expect(await webCryptoHasMlKem1024(subtleWithoutMlKem('algorithm'))).toBe(false)
  })

  it(`this runtime's answer (${nativeMlKem ? 'has' : 'lacks'} ML-KEM-1024) matches a direct attempt at the algorithm`, async () => {
    const s = globalThis.crypto.subtle as unknown as {
      generateKey(algorithm: Algorithm, extractable: boolean, usages: string[]): Promise<CryptoKeyPair>
      encapsulateBits?: unknown
    }
    let direct: boolean
    try {
      const pair = await s.generateKey({ name: 'ML-KEM-1024' }, false, ['encapsulateBits', 'decapsulateBits'])
      direct = typeof s.encapsulateBits === 'function' && pair.publicKey !== undefined
    } catch {
      direct = false
    }
    expect(nativeMlKem).toBe(direct)
  })

  for (const how of ['methods', 'algorithm'] as const) {
    it(`the auto backend on a WebCrypto lacking ML-KEM-1024 (${how} missing) falls back to noble: same keys as noble, and encapsulations cross both ways`, async () => {
      const fallback = createWebCryptoBackend({ subtle: subtleWithoutMlKem(how) })
      const seed = bytes(64, 50)
      const pair = await fallback.mlKem1024KeyPair(seed)
      expect(toHex(pair.publicKey)).toBe(toHex((await nobleBackend.mlKem1024KeyPair(seed.slice())).publicKey))
      const toNoble = await fallback.mlKem1024Encapsulate(pair.publicKey)
      expect(toHex(await nobleBackend.mlKem1024Decapsulate(seed.slice(), toNoble.ciphertext))).toBe(
        toHex(toNoble.sharedSecret)
      )
      const fromNative = await webCryptoBackend.mlKem1024Encapsulate(pair.publicKey)
      expect(toHex(await fallback.mlKem1024Decapsulate(seed.slice(), fromNative.ciphertext))).toBe(
        toHex(fromNative.sharedSecret)
      )
    })
  }
})

describe('same seeds give the same public keys on every backend', () => {
  it(`X25519: RFC 7748 section 6.1 key and 8 fixed secrets agree on ${names}`, async () => {
    const alice = hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a')
    for (const b of backends) {
      expect(toHex((await b.x25519KeyPair(alice)).publicKey)).toBe(
        '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a'
      )
    }
    for (let tag = 0; tag < 8; tag++) {
      const pubs = await onEach(backends, async (b) => (await b.x25519KeyPair(bytes(32, tag))).publicKey)
      expect(new Set(pubs).size).toBe(1)
    }
  })

  it(`Ed25519: RFC 8032 test 1 key and 8 fixed seeds agree on ${names}`, async () => {
    const seed = hex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60')
    for (const b of backends) {
      expect(toHex((await b.ed25519KeyPair(seed)).publicKey)).toBe(
        'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a'
      )
    }
    for (let tag = 0; tag < 8; tag++) {
      const pubs = await onEach(backends, async (b) => (await b.ed25519KeyPair(bytes(32, tag))).publicKey)
      expect(new Set(pubs).size).toBe(1)
    }
  })

  it(`ML-KEM-1024: 4 fixed seeds give the same 1568-byte public key on ${kemNames}`, async () => {
    for (let tag = 0; tag < 4; tag++) {
      const pubs = await onEach(kemOnly, async (b) => (await b.mlKem1024KeyPair(bytes(64, tag))).publicKey)
      expect(new Set(pubs).size).toBe(1)
      expect(pubs[0]).toHaveLength(2 * 1568)
    }
  })

  it(`fresh key pairs from each backend: every other backend derives the same public key from the secret`, async () => {
    for (const maker of kemOnly) {
      const x = await maker.x25519KeyPair()
      const e = await maker.ed25519KeyPair()
      const k = await maker.mlKem1024KeyPair()
      expect([x.secretKey.length, e.secretKey.length, k.secretKey.length, k.publicKey.length]).toEqual([
        32, 32, 64, 1568
      ])
      for (const other of kemOnly) {
        expect(toHex((await other.x25519KeyPair(x.secretKey.slice())).publicKey)).toBe(toHex(x.publicKey))
        expect(toHex((await other.ed25519KeyPair(e.secretKey.slice())).publicKey)).toBe(toHex(e.publicKey))
        expect(toHex((await other.mlKem1024KeyPair(k.secretKey.slice())).publicKey)).toBe(toHex(k.publicKey))
      }
    }
  })
})

describe('output of one backend is accepted by the others', () => {
  it(`Ed25519: a signature made on each of ${names} is byte-identical and verifies on all; a changed message or signature does not`, async () => {
    const seed = bytes(32, 1)
    const message = bytes(100, 2)
    const { publicKey } = await backends[0]!.ed25519KeyPair(seed)
    // RFC 8032 test 1 (empty message) pins the signature itself, not just agreement.
    const rfcSeed = hex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60')
    for (const signer of backends) {
      expect(toHex(await signer.ed25519Sign(rfcSeed, new Uint8Array(0)))).toBe(
        'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b'
      )
    }
    const signatures = await onEach(backends, (b) => b.ed25519Sign(seed, message))
    expect(new Set(signatures).size).toBe(1)
    for (const signature of signatures) {
      for (const verifier of backends) {
        expect(await verifier.ed25519Verify(publicKey, message, hex(signature))).toBe(true)
        const otherMessage = message.slice()
        otherMessage[0]! ^= 1
        expect(await verifier.ed25519Verify(publicKey, otherMessage, hex(signature))).toBe(false)
        const otherSignature = hex(signature)
        otherSignature[63]! ^= 0x10
        expect(await verifier.ed25519Verify(publicKey, message, otherSignature)).toBe(false)
      }
    }
  })

  it(`ML-KEM-1024: an encapsulation made on each of ${kemNames} decapsulates to the same secret on every one`, async () => {
    const seed = bytes(64, 3)
    const { publicKey } = await kemOnly[0]!.mlKem1024KeyPair(seed)
    for (const encapsulator of kemOnly) {
      const { ciphertext, sharedSecret } = await encapsulator.mlKem1024Encapsulate(publicKey)
      expect([ciphertext.length, sharedSecret.length]).toEqual([1568, 32])
      for (const decapsulator of kemOnly) {
        expect(toHex(await decapsulator.mlKem1024Decapsulate(seed.slice(), ciphertext))).toBe(toHex(sharedSecret))
      }
    }
  })

  it(`ML-KEM-1024: a corrupted ciphertext gives the same implicit-rejection secret on ${kemNames}, not the real one`, async () => {
    const seed = bytes(64, 4)
    const { publicKey } = await kemOnly[0]!.mlKem1024KeyPair(seed)
    const { ciphertext, sharedSecret } = await kemOnly[0]!.mlKem1024Encapsulate(publicKey)
    const corrupted = ciphertext.slice()
    corrupted[700]! ^= 0x01
    const rejected = await onEach(kemOnly, (b) => b.mlKem1024Decapsulate(seed.slice(), corrupted))
    expect(new Set(rejected).size).toBe(1)
    expect(rejected[0]).not.toBe(toHex(sharedSecret))
  })

  it(`AES-256-GCM: ciphertext from each of ${names} is identical and decrypts on all; tampering gives AeadError on all`, async () => {
    const key = bytes(32, 5)
    const nonce = bytes(12, 6)
    const aad = bytes(20, 7)
    for (const plaintext of [new Uint8Array(0), bytes(1, 8), bytes(1000, 9)]) {
      const sealed = await onEach(backends, (b) => b.aesGcmEncrypt(key, nonce, plaintext, aad))
      expect(new Set(sealed).size).toBe(1)
      expect(sealed[0]).toHaveLength(2 * (plaintext.length + 16))
      for (const decryptor of backends) {
        expect(toHex(await decryptor.aesGcmDecrypt(key, nonce, hex(sealed[0]!), aad))).toBe(toHex(plaintext))
        const tampered = hex(sealed[0]!)
        tampered[tampered.length - 1]! ^= 0x80
        await expect(decryptor.aesGcmDecrypt(key, nonce, tampered, aad)).rejects.toBeInstanceOf(AeadError)
        await expect(decryptor.aesGcmDecrypt(key, nonce, hex(sealed[0]!), bytes(20, 70))).rejects.toBeInstanceOf(
          AeadError
        )
        await expect(decryptor.aesGcmDecrypt(key, nonce, new Uint8Array(15), aad)).rejects.toBeInstanceOf(AeadError)
      }
    }
  })

  it(`X25519: both sides of a key agreement get the same secret whichever of ${names} each side uses`, async () => {
    const a = bytes(32, 10)
    const b = bytes(32, 11)
    const aPub = (await backends[0]!.x25519KeyPair(a)).publicKey
    const bPub = (await backends[0]!.x25519KeyPair(b)).publicKey
    const fromA = await onEach(backends, (backend) => backend.x25519(a, bPub))
    const fromB = await onEach(backends, (backend) => backend.x25519(b, aPub))
    expect(new Set([...fromA, ...fromB]).size).toBe(1)
  })

  it(`SHA-256, SHA-512, HMAC-SHA-256/512 (also with an empty key) and HKDF-SHA-256 (1 to 8160 bytes) agree on ${names}`, async () => {
    const abc = new TextEncoder().encode('abc')
    expect(new Set(await onEach(backends, (b) => b.sha256(abc)))).toEqual(
      new Set(['ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'])
    )
    expect(new Set(await onEach(backends, (b) => b.sha512(abc)))).toEqual(
      new Set([
        'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f'
      ])
    )
    for (const data of [new Uint8Array(0), bytes(1000, 12)]) {
      expect(new Set(await onEach(backends, (b) => b.sha256(data))).size).toBe(1)
      expect(new Set(await onEach(backends, (b) => b.sha512(data))).size).toBe(1)
      for (const key of [new Uint8Array(0), new Uint8Array(1), bytes(32, 13), bytes(100, 14)]) {
        expect(new Set(await onEach(backends, (b) => b.hmacSha256(key, data))).size).toBe(1)
        expect(new Set(await onEach(backends, (b) => b.hmacSha512(key, data))).size).toBe(1)
      }
    }
    // RFC 4231 test case 2 pins both HMACs, not just agreement.
    const jefe = new TextEncoder().encode('Jefe')
    const question = new TextEncoder().encode('what do ya want for nothing?')
    expect(new Set(await onEach(backends, (b) => b.hmacSha256(jefe, question)))).toEqual(
      new Set(['5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843'])
    )
    expect(new Set(await onEach(backends, (b) => b.hmacSha512(jefe, question)))).toEqual(
      new Set([
        '164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737'
      ])
    )
    // The empty HMAC key equals the one-byte key 0x00 (zero padding); WebCrypto gets the latter.
    for (const mac of ['hmacSha256', 'hmacSha512'] as const) {
      const zeroKey = await onEach(backends, (b) => b[mac](new Uint8Array(1), abc))
      expect(await onEach(backends, (b) => b[mac](new Uint8Array(0), abc))).toEqual(zeroKey)
    }
    for (const length of [1, 32, 33, 8160]) {
      for (const [ikm, salt, info] of [
        [bytes(32, 15), new Uint8Array(0), new Uint8Array(0)],
        [new Uint8Array(0), bytes(32, 16), bytes(10, 17)]
      ] as const) {
        const okm = await onEach(backends, (b) => b.hkdfSha256(ikm, salt, info, length))
        expect(new Set(okm).size).toBe(1)
        expect(okm[0]).toHaveLength(2 * length)
      }
    }
  })
})

/** Every X25519 public key of small order (RFC 7748 section 7), with the non-canonical encodings of two of them. */
const LOW_ORDER_X25519 = [
  '0000000000000000000000000000000000000000000000000000000000000000', // 0
  '0100000000000000000000000000000000000000000000000000000000000000', // 1
  'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800', // order 8
  '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157', // order 8
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // p - 1
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // p, which is 0
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f' // p + 1, which is 1
]

describe('the same bad input gets the same typed error on every backend', () => {
  for (const backend of backends) {
    it(`X25519 on ${backend.name}: the all-zero public key and the other 6 low-order keys are refused with InvalidKeyError`, async () => {
      const secret = bytes(32, 20)
      for (const pub of LOW_ORDER_X25519) {
        await expect(backend.x25519(secret, hex(pub)), pub).rejects.toBeInstanceOf(InvalidKeyError)
      }
    })

    it(`${backend.name}: wrong-length keys, seeds, nonces and ciphertexts are refused with InvalidParameterError`, async () => {
      const calls: [string, () => Promise<unknown>][] = [
        ['x25519KeyPair(31-byte secret)', () => backend.x25519KeyPair(new Uint8Array(31))],
        ['x25519(31-byte secret)', () => backend.x25519(new Uint8Array(31), bytes(32, 1))],
        ['x25519(33-byte public key)', () => backend.x25519(bytes(32, 1), new Uint8Array(33))],
        ['ed25519KeyPair(33-byte seed)', () => backend.ed25519KeyPair(new Uint8Array(33))],
        ['ed25519Sign(31-byte secret)', () => backend.ed25519Sign(new Uint8Array(31), new Uint8Array(1))],
        ['mlKem1024KeyPair(63-byte seed)', () => backend.mlKem1024KeyPair(new Uint8Array(63))],
        ['mlKem1024Encapsulate(1567-byte key)', () => backend.mlKem1024Encapsulate(new Uint8Array(1567))],
        [
          'mlKem1024Decapsulate(65-byte seed)',
          () => backend.mlKem1024Decapsulate(new Uint8Array(65), new Uint8Array(1568))
        ],
        [
          'mlKem1024Decapsulate(1569-byte ciphertext)',
          () => backend.mlKem1024Decapsulate(bytes(64, 1), new Uint8Array(1569))
        ],
        [
          'aesGcmEncrypt(16-byte key)',
          () => backend.aesGcmEncrypt(new Uint8Array(16), new Uint8Array(12), new Uint8Array(0), new Uint8Array(0))
        ],
        [
          'aesGcmEncrypt(16-byte nonce)',
          () => backend.aesGcmEncrypt(new Uint8Array(32), new Uint8Array(16), new Uint8Array(0), new Uint8Array(0))
        ],
        [
          'aesGcmDecrypt(24-byte key)',
          () => backend.aesGcmDecrypt(new Uint8Array(24), new Uint8Array(12), new Uint8Array(16), new Uint8Array(0))
        ],
        [
          'aesGcmDecrypt(8-byte nonce)',
          () => backend.aesGcmDecrypt(new Uint8Array(32), new Uint8Array(8), new Uint8Array(16), new Uint8Array(0))
        ]
      ]
      for (const [what, call] of calls) await expect(call(), what).rejects.toBeInstanceOf(InvalidParameterError)
    })

    it(`Ed25519 on ${backend.name}: verification of malformed input returns false and never throws`, async () => {
      const { publicKey } = await backend.ed25519KeyPair(bytes(32, 21))
      const message = bytes(10, 22)
      const signature = await backend.ed25519Sign(bytes(32, 21), message)
      const notAPoint = new Uint8Array(32).fill(0xff).fill(0x7f, 31) // y = 2^255 - 1 >= p: not canonical
      const cases: [string, Uint8Array, Uint8Array][] = [
        ['31-byte public key', publicKey.subarray(1), signature],
        ['empty public key', new Uint8Array(0), signature],
        ['non-canonical public key', notAPoint, signature],
        ['63-byte signature', publicKey, signature.subarray(1)],
        ['65-byte signature', publicKey, Uint8Array.of(...signature, 0)],
        ['empty signature', publicKey, new Uint8Array(0)],
        ['all-zero signature', publicKey, new Uint8Array(64)]
      ]
      for (const [what, pub, sig] of cases) expect(await backend.ed25519Verify(pub, message, sig), what).toBe(false)
      expect(await backend.ed25519Verify('not bytes' as never, message, signature)).toBe(false)
      expect(await backend.ed25519Verify(publicKey, message, null as never)).toBe(false)
    })
  }
})

describe('randomBytes', () => {
  for (const backend of backends) {
    it(`randomBytes on ${backend.name}: 0, 1, 65536, 65537 and 200000 bytes, every chunk filled`, () => {
      for (const length of [0, 1, 65_536, 65_537, 200_000]) expect(backend.randomBytes(length)).toHaveLength(length)
      expect(toHex(backend.randomBytes(32))).not.toBe(toHex(backend.randomBytes(32)))
      const big = backend.randomBytes(200_000)
      // WebCrypto fills at most 65536 bytes a call: the tail past each boundary must be random too.
      for (const start of [0, 65_536, 131_072, 196_608]) {
        expect(big.subarray(start, start + 32).some((b) => b !== 0)).toBe(true)
      }
    })
  }
})

describe('cached keys follow the bytes, not the array', () => {
  // Backends cache imported keys per Uint8Array. A caller that overwrites an array with another key (a reused
  // buffer) must get results for the new key, not for the key the array held when it was first used.
  type Use = (backend: CryptoBackend, key: Uint8Array) => Promise<Uint8Array>
  const one = new Uint8Array(1)
  const empty = new Uint8Array(0)
  const uses: [string, number, Use][] = [
    [
      'X25519 secret',
      32,
      (b, k) => b.x25519(k, hex('0900000000000000000000000000000000000000000000000000000000000000'))
    ],
    ['X25519 public key', 32, (b, k) => b.x25519(bytes(32, 40), k)],
    ['Ed25519 secret', 32, (b, k) => b.ed25519Sign(k, one)],
    ['AES-GCM key', 32, (b, k) => b.aesGcmEncrypt(k, new Uint8Array(12), one, empty)],
    ['HMAC-SHA-256 key', 32, (b, k) => b.hmacSha256(k, one)],
    ['HMAC-SHA-512 key', 32, (b, k) => b.hmacSha512(k, one)],
    ['HKDF input key', 32, (b, k) => b.hkdfSha256(k, empty, empty, 32)],
    ['ML-KEM seed', 64, (b, k) => b.mlKem1024KeyPair(k).then((pair) => pair.publicKey)]
  ]
  for (const { label, backend } of kemBackends) {
    it(`${label}: ${uses.map(([what]) => what).join(', ')} arrays overwritten with another key give the new key's result`, async () => {
      for (const [what, length, use] of uses) {
        const reused = bytes(length, 41)
        await use(backend, reused)
        reused.set(bytes(length, 42))
        expect(toHex(await use(backend, reused)), what).toBe(toHex(await use(backend, bytes(length, 42))))
      }
      // Decapsulation caches the seed's key separately from key generation.
      const seed = bytes(64, 43)
      const { publicKey } = await backend.mlKem1024KeyPair(bytes(64, 44))
      const { ciphertext, sharedSecret } = await backend.mlKem1024Encapsulate(publicKey)
      await backend.mlKem1024Decapsulate(seed, ciphertext)
      seed.set(bytes(64, 44))
      expect(toHex(await backend.mlKem1024Decapsulate(seed, ciphertext)), 'ML-KEM decapsulation seed').toBe(
        toHex(sharedSecret)
      )
    })
  }
})
