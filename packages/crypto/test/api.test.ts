/**
 * The package's public surface: typed errors with an `isCryptoError(err, code)` guard, storage interfaces on the main
 * entry, and test-only helpers (in-memory store, deterministic backend) only behind `@parley/crypto/testing`.
 */
import { describe, expect, it } from 'vitest'
import * as api from '../src/api.ts'
import {
  AeadError,
  type CryptoErrorCode,
  DuplicateMessageError,
  isCryptoError,
  LastResortPrekeyExhaustedError,
  ParleyCryptoError,
  UnknownPrekeyError
} from '../src/api.ts'

/** One instance of every error class the package exports, by its code. */
function oneOfEach(): ParleyCryptoError[] {
  const made: ParleyCryptoError[] = []
  for (const [name, value] of Object.entries(api)) {
    if (typeof value !== 'function' || !(value.prototype instanceof ParleyCryptoError)) continue
    const Class = value as unknown as new (...args: unknown[]) => ParleyCryptoError
    const e = new Class('x', 'y')
    expect(e.name, name).toBe(name)
    made.push(e)
  }
  return made
}

describe('isCryptoError', () => {
  it('is true for every exported error class with its own code and false with any other code', () => {
    const errors = oneOfEach()
    expect(errors.length).toBeGreaterThanOrEqual(20)
    const codes = new Set(errors.map((e) => e.code))
    expect(codes.size).toBe(errors.length)
    for (const e of errors) {
      expect(isCryptoError(e)).toBe(true)
      for (const code of codes) expect(isCryptoError(e, code), `${e.name} as ${code}`).toBe(code === e.code)
    }
  })

  it('narrows unknown errors and is false for plain errors and look-alikes', () => {
    const caught: unknown = new UnknownPrekeyError('one-time', 7)
    if (!isCryptoError(caught, 'UnknownPrekey')) throw new Error('not narrowed')
    const code: CryptoErrorCode = caught.code
    expect(code).toBe('UnknownPrekey')
    expect(isCryptoError(new LastResortPrekeyExhaustedError(1, 256), 'LastResortPrekeyExhausted')).toBe(true)
    expect(isCryptoError(new AeadError(), 'DuplicateMessage')).toBe(false)
    expect(isCryptoError(new DuplicateMessageError(), 'DuplicateMessage')).toBe(true)
    const lookAlike = Object.assign(new Error('message already received'), { code: 'DuplicateMessage' })
    expect(isCryptoError(lookAlike)).toBe(false)
    expect(isCryptoError({ code: 'DuplicateMessage' }, 'DuplicateMessage')).toBe(false)
    expect(isCryptoError(undefined)).toBe(false)
  })
})

describe('entry points', () => {
  it('the main entry exports no test helpers; @parley/crypto/testing has the in-memory store and the deterministic backend', async () => {
    expect('MemoryProtocolStore' in api).toBe(false)
    expect('deterministicBackend' in api).toBe(false)
    const testing = await import('@parley/crypto/testing')
    const store = new testing.MemoryProtocolStore()
    await store.commit({ sessions: [{ address: 'a', record: new Uint8Array([1]) }], account: new Uint8Array([2]) })
    expect(await store.loadSessionRecord('a')).toEqual(new Uint8Array([1]))
    expect(store.account).toEqual(new Uint8Array([2]))
    const seeded = testing.deterministicBackend(api.nobleBackend, new Uint8Array(32))
    const again = testing.deterministicBackend(api.nobleBackend, new Uint8Array(32))
    expect(api.toHex(seeded.randomBytes(40))).toBe(api.toHex(again.randomBytes(40)))
  })
})

describe('toHex and fromHex', () => {
  it('round-trip any bytes as lower-case hex and read upper-case hex too', () => {
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i)
    const hex = api.toHex(bytes)
    expect(hex).toMatch(/^[0-9a-f]{512}$/)
    expect(hex.slice(0, 8)).toBe('00010203')
    expect(api.fromHex(hex)).toEqual(bytes)
    expect(api.fromHex('00FFaB')).toEqual(Uint8Array.of(0x00, 0xff, 0xab))
    expect(api.fromHex('')).toEqual(new Uint8Array(0))
  })

  it('refuse odd lengths, other characters and padding with MalformedError', () => {
    for (const bad of ['a', 'abc', 'zz', '0x00', 'ab==', 'ab ', ' ab', 'ab\n', 'éé']) {
      let caught: unknown
      try {
        api.fromHex(bad)
      } catch (e) {
        caught = e
      }
      expect(isCryptoError(caught, 'Malformed'), JSON.stringify(bad)).toBe(true)
    }
  })
})
