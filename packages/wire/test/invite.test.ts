/** Invite links: the fixed vector, round trips, strict base64url, and typed errors for every bad link. */
import { fromHex, toHex } from '@parley/crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  decodeInvite,
  encodeInvite,
  fromBase64url,
  INVITE_PREFIX,
  InvalidInviteError,
  InvalidParameterError,
  InvalidValueError,
  type InviteInit,
  MAX_INVITE_ADDRESSES,
  MAX_INVITE_BYTES,
  MAX_INVITE_LENGTH,
  MAX_NAME_BYTES,
  OversizeError,
  toBase64url,
  UnknownVersionError
} from '../src/index.ts'
import { decodeOutcome, expectWireError, FUZZ_RUNS, PROPERTY_RUNS, vector } from './helpers.ts'

const v = vector('invite')
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
  it('match the fixed vector both ways', () => {
    expect(encodeInvite(invite)).toBe(v.link)
    expect(toHex(fromBase64url(v.link!.slice(INVITE_PREFIX.length))!)).toBe(v.hex)
    expect(decodeInvite(v.link!)).toEqual({ version: 1, ...invite })
  })

  it('round-trip with and without a name', () => {
    const arb = fc.record(
      {
        identityKey: fc.uint8Array({ minLength: 32, maxLength: 32 }),
        addresses: fc.array(fc.uint8Array({ minLength: 1, maxLength: 40 }), { maxLength: MAX_INVITE_ADDRESSES }),
        relays: fc.array(fc.uint8Array({ minLength: 1, maxLength: 40 }), { maxLength: 8 }),
        name: fc.string({ minLength: 1, maxLength: 10 }).filter((s) => !/[\p{Cc}]/u.test(s))
      },
      { requiredKeys: ['identityKey', 'addresses', 'relays'] }
    )
    fc.assert(
      fc.property(arb, (i) => {
        expect(decodeInvite(encodeInvite(i))).toEqual({ version: 1, ...i })
      }),
      { numRuns: PROPERTY_RUNS }
    )
  })

  it('another scheme or path, a mixed-case prefix, or a bad payload is InvalidInviteError', () => {
    const payload = v.link!.slice(INVITE_PREFIX.length)
    for (const link of [
      `https://invite/${payload}`,
      `parley://contact/${payload}`,
      `PARLEY://invite/${payload}`,
      `parley:/invite/${payload}`,
      ` ${v.link}`,
      `${v.link}=`,
      `${v.link} `,
      `${v.link}\n`,
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
    expect(MAX_INVITE_LENGTH).toBe(INVITE_PREFIX.length + Math.ceil((MAX_INVITE_BYTES * 4) / 3))
  })

  it('a payload of another version is UnknownVersionError', () => {
    const bytes = fromHex(v.hex)
    bytes[1] = 2
    expectWireError(() => decodeInvite(INVITE_PREFIX + toBase64url(bytes)), UnknownVersionError)
  })

  it('names with control or bidi characters, or over 64 bytes, are refused both ways', () => {
    for (const name of ['Bob\u202eecilA', 'a\u0000b', 'line\nbreak', 'x\u2067y', 'é'.repeat(MAX_NAME_BYTES / 2 + 1)]) {
      expectWireError(() => encodeInvite({ ...invite, name }), InvalidParameterError)
    }
    const bytes = fromHex(v.hex)
    // The vector ends with field 5, the name 'Alïce': its last 6 bytes. Its 'l' becomes a line feed.
    bytes[bytes.length - 5] = 0x0a
    expectWireError(() => decodeInvite(INVITE_PREFIX + toBase64url(bytes)), InvalidValueError)
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
