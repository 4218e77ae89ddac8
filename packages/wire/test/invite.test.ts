/**
 * Invite links: the fixed vector, round trips, strict base64url, the checksum against typos, identity-key validation,
 * and typed errors for every bad link.
 */
import { sha256 } from '@noble/hashes/sha2.js'
import { defaultBackend, fromHex, generateIdentity, toHex } from '@parley/crypto'
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  decodeInvite,
  encodeInvite,
  fromBase64url,
  INVITE_CHECKSUM_BYTES,
  INVITE_PREFIX,
  INVITE_VERSION,
  InvalidInviteError,
  InvalidParameterError,
  InvalidValueError,
  InviteChecksumError,
  type InviteInit,
  MAX_INVITE_ADDRESSES,
  MAX_INVITE_BYTES,
  MAX_INVITE_LENGTH,
  MAX_NAME_BYTES,
  OutdatedInviteError,
  OversizeError,
  toBase64url,
  UnknownVersionError
} from '../src/index.ts'
import { decodeOutcome, expectWireError, FUZZ_RUNS, PROPERTY_RUNS, vector } from './helpers.ts'

const v = vector('invite')

/**
 * The vector's invite as a version-2 link: the vector's protobuf with version 2, then the first 4 bytes of its
 * SHA-256. Computed outside this code base (Python: hashlib.sha256(body).digest()[:4], base64.urlsafe_b64encode).
 */
const V2_LINK =
  'parley://invite/CAISIAOhB7_zzhC-HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4GggEfwAAAQYPoSIUNg1yZWxheS5leGFtcGxlBgG73gMqBkFsw69jZZws3X0'

/** A link for any protobuf body, with a correct checksum (to reach the checks after it). */
function linkOf(body: Uint8Array): string {
  const payload = new Uint8Array(body.length + INVITE_CHECKSUM_BYTES)
  payload.set(body)
  payload.set(sha256(body).subarray(0, INVITE_CHECKSUM_BYTES), body.length)
  return INVITE_PREFIX + toBase64url(payload)
}

/** The vector's protobuf as version 2. */
function v2Body(): Uint8Array {
  const bytes = fromHex(v.hex)
  bytes[1] = INVITE_VERSION
  return bytes
}

/** Genuine identity keys for the round-trip property: random bytes are mostly off-curve or torsioned points. */
const KEYS: Uint8Array[] = []
beforeAll(async () => {
  for (let i = 0; i < 16; i++) KEYS.push((await generateIdentity(defaultBackend)).publicKey)
})

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
const f = v.fields as { identityKey: string; addresses: string[]; relays: string[]; name: string }
const invite: InviteInit = {
  identityKey: fromHex(f.identityKey),
  addresses: f.addresses.map(fromHex),
  relays: f.relays.map(fromHex),
  name: f.name
}

describe('base64url', () => {
  it('matches RFC 4648 test vectors (unpadded, URL alphabet)', () => {
    const cases: [string, string][] = [
      ['', ''],
      ['f', 'Zg'],
      ['fo', 'Zm8'],
      ['foo', 'Zm9v'],
      ['foob', 'Zm9vYg'],
      ['fooba', 'Zm9vYmE'],
      ['foobar', 'Zm9vYmFy']
    ]
    for (const [plain, b64] of cases) {
      expect(toBase64url(new TextEncoder().encode(plain))).toBe(b64)
      expect(new TextDecoder().decode(fromBase64url(b64))).toBe(plain)
    }
    expect(toBase64url(Uint8Array.of(0xfb, 0xff))).toBe('-_8')
  })

  it('round-trips any bytes; refuses padding, other alphabets, impossible lengths and non-zero spare bits', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (b) => {
        expect(fromBase64url(toBase64url(b))).toEqual(b)
      }),
      { numRuns: PROPERTY_RUNS }
    )
    for (const bad of ['Zg==', 'Zm8=', 'Z', 'Zm9vY', 'Zh', 'Zm9', '+/8', 'Zm 9v', 'Zm9v\n', 'Zé']) {
      expect(fromBase64url(bad), bad).toBeUndefined()
    }
  })
})

describe('invite links', () => {
  it('match the fixed version-2 vector both ways: the protobuf, then 4 bytes of its SHA-256', () => {
    expect(INVITE_VERSION).toBe(2)
    expect(INVITE_CHECKSUM_BYTES).toBe(4)
    expect(encodeInvite(invite)).toBe(V2_LINK)
    expect(decodeInvite(V2_LINK)).toEqual({ version: 2, ...invite })
    expect(linkOf(v2Body())).toBe(V2_LINK)
  })

  it('a version-1 link (no checksum) is refused with OutdatedInviteError, not accepted unchecked', () => {
    expect(toHex(fromBase64url(v.link!.slice(INVITE_PREFIX.length))!)).toBe(v.hex)
    expectWireError(() => decodeInvite(v.link!), OutdatedInviteError)
  })

  it('every one-character typo, dropped or added character in the payload is refused with a typed error', () => {
    const payload = V2_LINK.slice(INVITE_PREFIX.length)
    const variants: string[] = []
    for (let i = 0; i < payload.length; i++) {
      for (const c of BASE64URL) if (c !== payload[i]) variants.push(payload.slice(0, i) + c + payload.slice(i + 1))
      variants.push(payload.slice(0, i) + payload.slice(i + 1))
      variants.push(`${payload.slice(0, i)}A${payload.slice(i)}`)
    }
    let checksum = 0
    for (const typo of variants) {
      let thrown: unknown
      try {
        decodeInvite(INVITE_PREFIX + typo)
      } catch (e) {
        thrown = e
      }
      // The strict base64url decoder catches some (spare bits, impossible lengths); the checksum every other one.
      expect(thrown instanceof InviteChecksumError || thrown instanceof InvalidInviteError, typo).toBe(true)
      if (thrown instanceof InviteChecksumError) checksum++
    }
    expect(checksum).toBeGreaterThan(variants.length / 2)
    expect(expectWireError(() => decodeInvite(INVITE_PREFIX + variants[0]), InviteChecksumError).code).toBe(
      'InviteChecksum'
    )
  })

  it('an all-zero, small-order or off-curve identity key is refused both ways', () => {
    const bad = [
      new Uint8Array(32), // all zero: y = 0, a point of order 4
      Uint8Array.from([1, ...new Uint8Array(31)]), // the neutral point
      Uint8Array.from([0xec, ...new Uint8Array(30).fill(0xff), 0x7f]), // y = -1, order 2
      fromHex('ab'.repeat(32)) // not on the curve
    ]
    for (const identityKey of bad) {
      expectWireError(() => encodeInvite({ ...invite, identityKey }), InvalidParameterError)
      const body = v2Body()
      body.set(identityKey, 4) // field 2: tag, length, then the 32 key bytes
      const err = expectWireError(() => decodeInvite(linkOf(body)), InvalidValueError)
      expect(err.message).toMatch(/identityKey: not a valid Ed25519 public key/)
    }
  })

  it('round-trip with and without a name', () => {
    const arb = fc.record(
      {
        identityKey: fc.constantFrom(...KEYS),
        addresses: fc.array(fc.uint8Array({ minLength: 1, maxLength: 40 }), { maxLength: MAX_INVITE_ADDRESSES }),
        relays: fc.array(fc.uint8Array({ minLength: 1, maxLength: 40 }), { maxLength: 8 }),
        name: fc.string({ minLength: 1, maxLength: 10 }).filter((s) => !/[\p{Cc}\p{Zl}\p{Zp}]/u.test(s))
      },
      { requiredKeys: ['identityKey', 'addresses', 'relays'] }
    )
    fc.assert(
      fc.property(arb, (i) => {
        expect(decodeInvite(encodeInvite(i))).toEqual({ version: 2, ...i })
      }),
      { numRuns: PROPERTY_RUNS }
    )
  })

  it('another scheme or path, a mixed-case prefix, or a bad payload is InvalidInviteError', () => {
    const payload = V2_LINK.slice(INVITE_PREFIX.length)
    for (const link of [
      `https://invite/${payload}`,
      `parley://contact/${payload}`,
      `PARLEY://invite/${payload}`,
      `parley:/invite/${payload}`,
      ` ${V2_LINK}`,
      `${V2_LINK}=`,
      `${V2_LINK} `,
      `${V2_LINK}\n`,
      `${INVITE_PREFIX}AAAAAA`,
      `${INVITE_PREFIX}${payload.replaceAll('_', '/')}x`,
      `${INVITE_PREFIX}a`,
      ''
    ]) {
      expectWireError(() => decodeInvite(link), InvalidInviteError)
    }
    expectWireError(() => decodeInvite(42 as unknown as string), InvalidParameterError)
  })

  it('a link over MAX_INVITE_LENGTH is OversizeError before decoding', () => {
    expectWireError(() => decodeInvite(INVITE_PREFIX + 'A'.repeat(MAX_INVITE_LENGTH)), OversizeError)
    expect(MAX_INVITE_LENGTH).toBe(
      INVITE_PREFIX.length + Math.ceil(((MAX_INVITE_BYTES + INVITE_CHECKSUM_BYTES) * 4) / 3)
    )
  })

  it('a checksummed payload of another version is UnknownVersionError', () => {
    const bytes = v2Body()
    bytes[1] = 3
    expectWireError(() => decodeInvite(linkOf(bytes)), UnknownVersionError)
    expectWireError(() => encodeInvite({ ...invite, version: 1 }), InvalidParameterError)
  })

  it('names with control or bidi characters, or over 64 bytes, are refused both ways', () => {
    for (const name of [
      'Bob\u202eecilA',
      'a\u0000b',
      'line\nbreak',
      'x\u2067y',
      'para\u2029graph',
      'line\u2028sep',
      'c1\u009bcontrol',
      'é'.repeat(MAX_NAME_BYTES / 2 + 1)
    ]) {
      expectWireError(() => encodeInvite({ ...invite, name }), InvalidParameterError)
    }
    const bytes = v2Body()
    // The vector ends with field 5, the name 'Alïce': its last 6 bytes. Its 'l' becomes a line feed.
    bytes[bytes.length - 5] = 0x0a
    expectWireError(() => decodeInvite(linkOf(bytes)), InvalidValueError)
  })

  it(`random strings after the prefix give an invite or a typed error (${FUZZ_RUNS} runs)`, () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (s) => {
        decodeOutcome((b) => decodeInvite(new TextDecoder().decode(b)), new TextEncoder().encode(INVITE_PREFIX + s))
      }),
      { numRuns: FUZZ_RUNS }
    )
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
        decodeOutcome((x) => decodeInvite(INVITE_PREFIX + toBase64url(x)), b)
      }),
      { numRuns: FUZZ_RUNS }
    )
  })
})
