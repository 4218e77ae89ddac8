/** Typed errors: every exported class has its own code, and `isWireError(err, code)` is the way to branch on one. */
import { describe, expect, it } from 'vitest'
import * as wire from '../src/index.ts'
import {
  decodeInvite,
  isWireError,
  MalformedError,
  TruncatedError,
  WireError,
  type WireErrorCode
} from '../src/index.ts'

/** One instance of every concrete error class the package exports (the two bases excluded). */
function oneOfEach(): WireError[] {
  const made: WireError[] = []
  for (const [name, value] of Object.entries(wire)) {
    if (typeof value !== 'function' || !(value.prototype instanceof WireError) || value === MalformedError) continue
    const e = new (value as unknown as new (...args: unknown[]) => WireError)('x', 'y', 1, 2)
    expect(e.name, name).toBe(name)
    made.push(e)
  }
  return made
}

describe('isWireError', () => {
  it('is true for every exported error class with its own code and false with any other code', () => {
    const errors = oneOfEach()
    expect(errors.length).toBeGreaterThanOrEqual(20)
    const codes = new Set(errors.map((e) => e.code))
    expect(codes.size).toBe(errors.length)
    for (const e of errors) {
      expect(isWireError(e)).toBe(true)
      for (const code of codes) expect(isWireError(e, code), `${e.name} as ${code}`).toBe(code === e.code)
    }
  })

  it('narrows what a decoder threw, and is false for plain errors and look-alikes', () => {
    let caught: unknown
    try {
      decodeInvite('parley://invite/Zg==')
    } catch (e) {
      caught = e
    }
    if (!isWireError(caught, 'InvalidInvite')) throw new Error('not narrowed')
    const code: WireErrorCode = caught.code
    expect(code).toBe('InvalidInvite')
    expect(isWireError(new TruncatedError('Envelope'), 'Truncated')).toBe(true)
    expect(isWireError(new TruncatedError('Envelope'), 'Oversize')).toBe(false)
    expect(isWireError(Object.assign(new Error('truncated'), { code: 'Truncated' }))).toBe(false)
    expect(isWireError({ code: 'Truncated' }, 'Truncated')).toBe(false)
    expect(isWireError(undefined)).toBe(false)
  })
})
