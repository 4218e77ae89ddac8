/** Typed errors: every exported class has its own code, and `isStoreError(err, code)` is the way to branch on one. */
import { describe, expect, it } from 'vitest'
import * as store from '../src/api.ts'
import {
  CorruptRecordError,
  isStoreError,
  ParleyStoreError,
  type StoreErrorCode,
  WrongPassphraseError
} from '../src/api.ts'

describe('isStoreError', () => {
  it('is true for every exported error class with its own code and false with any other code', () => {
    const errors: ParleyStoreError[] = []
    for (const [name, value] of Object.entries(store)) {
      if (typeof value !== 'function' || !(value.prototype instanceof ParleyStoreError)) continue
      const e = new (value as unknown as new (...args: unknown[]) => ParleyStoreError)('x', 'y', 1)
      expect(e.name, name).toBe(name)
      errors.push(e)
    }
    expect(errors.length).toBeGreaterThanOrEqual(12)
    const codes = new Set(errors.map((e) => e.code))
    expect(codes.size).toBe(errors.length)
    for (const e of errors) {
      expect(isStoreError(e)).toBe(true)
      for (const code of codes) expect(isStoreError(e, code), `${e.name} as ${code}`).toBe(code === e.code)
    }
  })

  it('narrows unknown errors, and is false for plain errors and look-alikes', () => {
    const caught: unknown = new WrongPassphraseError()
    if (!isStoreError(caught, 'WrongPassphrase')) throw new Error('not narrowed')
    const code: StoreErrorCode = caught.code
    expect(code).toBe('WrongPassphrase')
    expect(isStoreError(new CorruptRecordError('header', 'truncated'), 'WrongPassphrase')).toBe(false)
    expect(isStoreError(Object.assign(new Error('wrong'), { code: 'WrongPassphrase' }))).toBe(false)
    expect(isStoreError({ code: 'WrongPassphrase' }, 'WrongPassphrase')).toBe(false)
    expect(isStoreError(null)).toBe(false)
  })
})
