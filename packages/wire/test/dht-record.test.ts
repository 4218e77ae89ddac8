/**
 * DHT records: the fixed vector (signed by an independent Ed25519 implementation), validation of genuine and forged
 * records built with real @parley/crypto bundles, and the selector that makes a rolled-back record lose.
 */
import type { SelectFn, ValidateFn } from '@libp2p/kad-dht'
import {
  type CryptoBackend,
  certifyDevice,
  decodeBundle,
  defaultBackend,
  ExpiredError,
  encodeBundle,
  fromHex,
  generateIdentity,
  InvalidSignatureError,
  signBundle,
  toHex,
  UntrustedDeviceError,
  UntrustedIdentityError
} from '@parley/crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  CONTEXT_DHT_RECORD,
  DHT_KEY_BYTES,
  DHT_NAMESPACE,
  type DhtRecord,
  type DhtRecordFields,
  decodeDhtRecord,
  dhtKeyForIdentity,
  dhtRecordSelector,
  dhtRecordValidator,
  encodeDhtRecord,
  IDENTITY_KEY_BYTES,
  InvalidBundleError,
  InvalidParameterError,
  InvalidValueError,
  identityFromDhtKey,
  MAX_ADDRESS_BYTES,
  MAX_BUNDLE_BYTES,
  MAX_DHT_ADDRESSES,
  MAX_DHT_MAILBOX_RELAYS,
  MAX_DHT_RECORD_BYTES,
  MAX_DHT_RECORD_LIFETIME_MS,
  NoValidRecordError,
  RecordExpiredError,
  RecordKeyMismatchError,
  RecordSignatureError,
  selectDhtRecord,
  signDhtRecord,
  validateDhtRecord,
  verifyDhtRecordSignature,
  WireError
} from '../src/index.ts'
import { expectWireError, expectWireRejection, isNode, PROPERTY_RUNS, vector } from './helpers.ts'
import { bundleBytes, DAY, type Device, makeDevice, NOW } from './parties.ts'

const backend: CryptoBackend = defaultBackend
const ADDRESS = fromHex('047f000001060fa1') // /ip4/127.0.0.1/tcp/4001

async function recordFor(
  device: Device,
  fields: Partial<DhtRecordFields> = {},
  now = NOW
): Promise<{ record: DhtRecord; bytes: Uint8Array; key: Uint8Array }> {
  const record = await signDhtRecord(backend, device.identity, {
    bundle: fields.bundle ?? (await bundleBytes(backend, device, now)),
    addresses: fields.addresses ?? [ADDRESS],
    mailboxRelays: fields.mailboxRelays ?? [],
    sequence: fields.sequence ?? 1,
    expiresAt: fields.expiresAt ?? now + 7 * DAY
  })
  return { record, bytes: encodeDhtRecord(record), key: dhtKeyForIdentity(device.identity.publicKey) }
}

describe('DhtRecord format', () => {
  const v = vector('dht-record')
  const f = v.fields as Record<string, unknown>

  it('matches the fixed vector, signature included (Ed25519 is deterministic)', async () => {
    const identity = await generateIdentity(backend, fromHex(f.identitySeed as string))
    expect(toHex(identity.publicKey)).toBe(f.identityKey)
    const record = await signDhtRecord(backend, identity, {
      bundle: fromHex(f.bundle as string),
      addresses: (f.addresses as string[]).map(fromHex),
      mailboxRelays: (f.mailboxRelays as string[]).map(fromHex),
      sequence: f.sequence as number,
      expiresAt: f.expiresAt as number
    })
    expect(toHex(record.signature)).toBe(f.signature)
    expect(toHex(encodeDhtRecord(record))).toBe(v.hex)
    expect(decodeDhtRecord(v.bytes)).toEqual(record)
    await verifyDhtRecordSignature(backend, decodeDhtRecord(v.bytes))
  })

  it('the signature covers exactly context ‖ 0x00 ‖ the bytes before the signature field', async () => {
    const body = v.bytes.subarray(0, v.bytes.length - 66)
    const message = new Uint8Array([...new TextEncoder().encode(CONTEXT_DHT_RECORD), 0, ...body])
    expect(CONTEXT_DHT_RECORD).toBe('Parley/v1/dht-record')
    expect(await backend.ed25519Verify(fromHex(f.identityKey as string), message, fromHex(f.signature as string))).toBe(
      true
    )
  })

  it('the DHT key is /parley/ followed by the raw identity key', () => {
    const identityKey = fromHex(f.identityKey as string)
    const key = dhtKeyForIdentity(identityKey)
    expect(toHex(key)).toBe(vector('dht-key').hex)
    expect(key.length).toBe(DHT_KEY_BYTES)
    expect(identityFromDhtKey(key)).toEqual(identityKey)
    expectWireError(() => dhtKeyForIdentity(new Uint8Array(31)), InvalidParameterError)
  })

  it("kad-dht's namespace lookup (UTF-8 decode, split on '/', parts[1]) finds 'parley' for every identity key", () => {
    // Mirrors @libp2p/kad-dht 16 record/validators.ts and selectors.ts: uint8ArrayToString(key).split('/').
    const decoder = new TextDecoder()
    fc.assert(
      fc.property(fc.uint8Array({ minLength: IDENTITY_KEY_BYTES, maxLength: IDENTITY_KEY_BYTES }), (identityKey) => {
        const parts = decoder.decode(dhtKeyForIdentity(identityKey)).split('/')
        expect(parts.length).toBeGreaterThanOrEqual(3)
        expect(parts[1]).toBe(DHT_NAMESPACE)
      }),
      { numRuns: PROPERTY_RUNS }
    )
    // The worst case: an identity key made of '/' bytes still leaves parts[1] alone.
    expect(decoder.decode(dhtKeyForIdentity(new Uint8Array(32).fill(0x2f))).split('/')[1]).toBe('parley')
  })

  it('a record filled to every limit fits MAX_DHT_RECORD_BYTES; one address more is refused', async () => {
    const device = await makeDevice(backend)
    const full: DhtRecordFields = {
      bundle: new Uint8Array(MAX_BUNDLE_BYTES),
      addresses: Array.from({ length: MAX_DHT_ADDRESSES }, () => new Uint8Array(MAX_ADDRESS_BYTES)),
      mailboxRelays: Array.from({ length: MAX_DHT_MAILBOX_RELAYS }, () => new Uint8Array(MAX_ADDRESS_BYTES)),
      sequence: Number.MAX_SAFE_INTEGER,
      expiresAt: Number.MAX_SAFE_INTEGER
    }
    const record = await signDhtRecord(backend, device.identity, full)
    const bytes = encodeDhtRecord(record)
    expect(bytes.length).toBeLessThanOrEqual(MAX_DHT_RECORD_BYTES)
    expect(decodeDhtRecord(bytes).addresses.length).toBe(MAX_DHT_ADDRESSES)
    await expect(
      signDhtRecord(backend, device.identity, { ...full, addresses: [...full.addresses, ADDRESS] })
    ).rejects.toBeInstanceOf(InvalidParameterError)
    await expect(
      signDhtRecord(backend, device.identity, { ...full, mailboxRelays: [...full.mailboxRelays, ADDRESS] })
    ).rejects.toBeInstanceOf(InvalidParameterError)
    await expect(
      signDhtRecord(backend, device.identity, { ...full, addresses: [new Uint8Array(0)] })
    ).rejects.toBeInstanceOf(InvalidParameterError)
  })
})

describe('validateDhtRecord', () => {
  it('accepts a genuine record with a real bundle, and returns it', async () => {
    const device = await makeDevice(backend)
    const { record, bytes, key } = await recordFor(device)
    expect(await validateDhtRecord(backend, key, bytes, NOW)).toEqual(record)
    // Still valid a moment before it expires.
    expect((await validateDhtRecord(backend, key, bytes, NOW + 7 * DAY - 1)).sequence).toBe(1)
  })

  it('a flipped signature bit, or a field changed after signing, is RecordSignatureError', async () => {
    const device = await makeDevice(backend)
    const { record, key } = await recordFor(device)
    const signature = record.signature.slice()
    signature[0]! ^= 1
    await expectWireRejection(
      validateDhtRecord(backend, key, encodeDhtRecord({ ...record, signature }), NOW),
      RecordSignatureError
    )
    for (const changed of [
      { ...record, sequence: record.sequence + 1 },
      { ...record, expiresAt: record.expiresAt + 1 },
      { ...record, addresses: [fromHex('047f000001060fa2')] },
      { ...record, mailboxRelays: [ADDRESS] }
    ]) {
      await expectWireRejection(validateDhtRecord(backend, key, encodeDhtRecord(changed), NOW), RecordSignatureError)
    }
  })

  it("a record signed by another identity under the victim's key and identity is RecordSignatureError", async () => {
    const victim = await makeDevice(backend)
    const mallory = await makeDevice(backend)
    const genuine = await recordFor(victim)
    const forged = await signDhtRecord(
      backend,
      { publicKey: victim.identity.publicKey, secretKey: mallory.identity.secretKey },
      { ...genuine.record, sequence: 99 }
    )
    await expectWireRejection(
      validateDhtRecord(backend, genuine.key, encodeDhtRecord(forged), NOW),
      RecordSignatureError
    )
  })

  it('a bundle whose device certificate another identity signed is InvalidBundleError (UntrustedDevice)', async () => {
    const alice = await makeDevice(backend)
    const mallory = await makeDevice(backend)
    const genuine = decodeBundle(await bundleBytes(backend, alice))
    // A certificate that names Alice but carries Mallory's signature, inside a bundle Alice's key signed.
    const { certificate: forgedCertificate } = await certifyDevice(
      backend,
      { publicKey: alice.identity.publicKey, secretKey: mallory.identity.secretKey },
      { deviceKey: new TextEncoder().encode('mallory-device'), issuedAt: NOW, expiresAt: NOW + 365 * DAY }
    )
    // Mallory's own genuine certificate (it names Mallory), likewise wrapped in a bundle Alice's key signed.
    const mallorysCertificate = mallory.account.device.certificate
    for (const certificate of [forgedCertificate, mallorysCertificate]) {
      const { signature: _s, version: _v, ...body } = genuine
      const bundle = encodeBundle(await signBundle(backend, alice.identity.secretKey, { ...body, certificate }))
      const { bytes, key } = await recordFor(alice, { bundle })
      const e = await expectWireRejection(validateDhtRecord(backend, key, bytes, NOW), InvalidBundleError)
      expect(e.reason).toBe('UntrustedDevice')
      expect(e.cause).toBeInstanceOf(UntrustedDeviceError)
    }
  })

  it("another identity's genuine bundle in a record is InvalidBundleError (UntrustedIdentity)", async () => {
    const alice = await makeDevice(backend)
    const bob = await makeDevice(backend)
    const { bytes, key } = await recordFor(alice, { bundle: await bundleBytes(backend, bob) })
    const e = await expectWireRejection(validateDhtRecord(backend, key, bytes, NOW), InvalidBundleError)
    expect(e.reason).toBe('UntrustedIdentity')
    expect(e.cause).toBeInstanceOf(UntrustedIdentityError)
  })

  it('a bundle with a bad signature or undecodable bytes is InvalidBundleError', async () => {
    const alice = await makeDevice(backend)
    const bundle = await bundleBytes(backend, alice)
    bundle[bundle.length - 1]! ^= 1
    const bad = await recordFor(alice, { bundle })
    const e = await expectWireRejection(validateDhtRecord(backend, bad.key, bad.bytes, NOW), InvalidBundleError)
    expect(e.cause).toBeInstanceOf(InvalidSignatureError)
    const garbage = await recordFor(alice, { bundle: Uint8Array.of(1, 2, 3) })
    const g = await expectWireRejection(validateDhtRecord(backend, garbage.key, garbage.bytes, NOW), InvalidBundleError)
    expect(g.reason).toBe('Malformed')
  })

  it('an expired record is RecordExpiredError; an expired bundle in a live record is InvalidBundleError', async () => {
    const device = await makeDevice(backend)
    const { bytes, key } = await recordFor(device)
    await expectWireRejection(validateDhtRecord(backend, key, bytes, NOW + 7 * DAY), RecordExpiredError)
    await expectWireRejection(validateDhtRecord(backend, key, bytes, NOW + 30 * DAY), RecordExpiredError)
    const shortBundle = await bundleBytes(backend, device, NOW, DAY)
    const live = await recordFor(device, { bundle: shortBundle, expiresAt: NOW + 7 * DAY })
    expect((await validateDhtRecord(backend, live.key, live.bytes, NOW)).sequence).toBe(1)
    const e = await expectWireRejection(
      validateDhtRecord(backend, live.key, live.bytes, NOW + 2 * DAY),
      InvalidBundleError
    )
    expect(e.reason).toBe('Expired')
    expect(e.cause).toBeInstanceOf(ExpiredError)
  })

  it('a record claiming to live longer than MAX_DHT_RECORD_LIFETIME_MS is refused', async () => {
    const device = await makeDevice(backend)
    const ok = await recordFor(device, { expiresAt: NOW + MAX_DHT_RECORD_LIFETIME_MS })
    expect((await validateDhtRecord(backend, ok.key, ok.bytes, NOW)).sequence).toBe(1)
    const far = await recordFor(device, { expiresAt: NOW + MAX_DHT_RECORD_LIFETIME_MS + 1 })
    await expectWireRejection(validateDhtRecord(backend, far.key, far.bytes, NOW), InvalidValueError)
  })

  it("a record under another identity's key, or under a key outside /parley/, is RecordKeyMismatchError", async () => {
    const alice = await makeDevice(backend)
    const bob = await makeDevice(backend)
    const { bytes, key } = await recordFor(alice)
    const bobsKey = dhtKeyForIdentity(bob.identity.publicKey)
    await expectWireRejection(validateDhtRecord(backend, bobsKey, bytes, NOW), RecordKeyMismatchError)
    const pk = new Uint8Array(key)
    pk.set(new TextEncoder().encode('/pk/xxxx'))
    await expectWireRejection(validateDhtRecord(backend, pk, bytes, NOW), RecordKeyMismatchError)
    await expectWireRejection(validateDhtRecord(backend, key.subarray(0, 39), bytes, NOW), RecordKeyMismatchError)
    await expectWireRejection(
      validateDhtRecord(backend, new Uint8Array([...key, 0]), bytes, NOW),
      RecordKeyMismatchError
    )
  })

  it('a low-order identity key is refused before any signature check', async () => {
    const device = await makeDevice(backend)
    const { record } = await recordFor(device)
    const zero = new Uint8Array(32)
    const bytes = encodeDhtRecord({ ...record, identityKey: zero })
    await expectWireRejection(validateDhtRecord(backend, dhtKeyForIdentity(zero), bytes, NOW), InvalidValueError)
  })

  it('the kad-dht validator wrapper has ValidateFn’s shape and uses the injected clock', async () => {
    const device = await makeDevice(backend)
    const { bytes, key } = await recordFor(device)
    let now = NOW
    const validate: ValidateFn = dhtRecordValidator(backend, { now: () => now })
    await validate(key, bytes)
    now = NOW + 8 * DAY
    await expect(validate(key, bytes)).rejects.toBeInstanceOf(RecordExpiredError)
  })

  it('random bytes and random keys are refused with a typed error', async () => {
    const device = await makeDevice(backend)
    const { key } = await recordFor(device)
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), fc.boolean(), async (bytes, ownKey) => {
        const k = ownKey ? key : bytes.subarray(0, 40)
        const e = await validateDhtRecord(backend, k, bytes, NOW).then(
          () => undefined,
          (err: unknown) => err
        )
        expect(e).toBeInstanceOf(WireError)
      }),
      { numRuns: isNode() ? 2_000 : 500 }
    )
  })
})

describe('selectDhtRecord', () => {
  it('picks the highest sequence whatever the order; a rolled-back record loses', async () => {
    const device = await makeDevice(backend)
    const bundle = await bundleBytes(backend, device)
    const current = (await recordFor(device, { bundle, sequence: NOW + 10 })).bytes
    const rolledBack = (await recordFor(device, { bundle, sequence: NOW + 9, expiresAt: NOW + 20 * DAY })).bytes
    const older = (await recordFor(device, { bundle, sequence: 1 })).bytes
    expect(selectDhtRecord([current, rolledBack])).toBe(0)
    expect(selectDhtRecord([rolledBack, current])).toBe(1)
    expect(selectDhtRecord([older, rolledBack, current])).toBe(2)
    expect(selectDhtRecord([rolledBack, older])).toBe(0)
    const select: SelectFn = dhtRecordSelector
    const key = dhtKeyForIdentity(device.identity.publicKey)
    expect(select(key, [rolledBack, current, older])).toBe(1)
  })

  it('ties on sequence go to the greatest bytes, so every node picks the same record', async () => {
    const device = await makeDevice(backend)
    const bundle = await bundleBytes(backend, device)
    const a = (await recordFor(device, { bundle, sequence: 5, addresses: [fromHex('047f000001060001')] })).bytes
    const b = (await recordFor(device, { bundle, sequence: 5, addresses: [fromHex('047f000001060002')] })).bytes
    const winner = toHex(a) > toHex(b) ? a : b
    fc.assert(
      fc.property(fc.shuffledSubarray([a, b, a, b], { minLength: 4, maxLength: 4 }), (records) => {
        expect(records[selectDhtRecord(records)]).toBe(winner)
      }),
      { numRuns: 50 }
    )
    // Identical copies: the first.
    expect(selectDhtRecord([a, a])).toBe(0)
  })

  it('skips records that do not decode or belong to another identity; none usable is NoValidRecordError', async () => {
    const alice = await makeDevice(backend)
    const bob = await makeDevice(backend)
    const a = (await recordFor(alice, { sequence: 3 })).bytes
    const b = (await recordFor(bob, { sequence: 9 })).bytes
    const aliceKey = dhtKeyForIdentity(alice.identity.publicKey)
    expect(selectDhtRecord([Uint8Array.of(1, 2), a])).toBe(1)
    expect(selectDhtRecord([b, a], aliceKey)).toBe(1)
    expect(selectDhtRecord([b, a])).toBe(0)
    expectWireError(() => selectDhtRecord([]), NoValidRecordError)
    expectWireError(() => selectDhtRecord([Uint8Array.of(0)]), NoValidRecordError)
    expectWireError(() => selectDhtRecord([b], aliceKey), NoValidRecordError)
  })

  it('random record lists give an index of a decodable record or NoValidRecordError', () => {
    const valid = vector('dht-record').bytes
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.constant(valid)), { maxLength: 6 }), (rs) => {
        try {
          const i = selectDhtRecord(rs)
          expect(() => decodeDhtRecord(rs[i]!)).not.toThrow()
        } catch (e) {
          expect(e).toBeInstanceOf(NoValidRecordError)
        }
      }),
      { numRuns: PROPERTY_RUNS }
    )
  })
})
