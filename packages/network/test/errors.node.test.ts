/** Typed errors: `isNetworkError(err, code)` is the way to branch on a failure, a relay's refusal codes included. */
import { describe, expect, it } from 'vitest'
import {
  ContactNotFoundError,
  InvalidNetworkInputError,
  isNetworkError,
  MailboxError,
  type NetworkErrorCode,
  RecordStoreFullError,
  RolledBackRecordError
} from '../src/index.ts'

describe('isNetworkError', () => {
  it('matches each error by its own code only', () => {
    const errors = [
      new ContactNotFoundError(),
      new RolledBackRecordError(2, 1),
      new RecordStoreFullError(10, 1000),
      new InvalidNetworkInputError('key', '40 bytes'),
      new MailboxError('RateLimited', 5000)
    ]
    const codes: NetworkErrorCode[] = [
      'ContactNotFound',
      'RolledBackRecord',
      'RecordStoreFull',
      'InvalidInput',
      'RateLimited'
    ]
    expect(errors.map((e) => e.code)).toEqual(codes)
    for (const e of errors) {
      expect(isNetworkError(e)).toBe(true)
      for (const code of codes) expect(isNetworkError(e, code), `${e.name} as ${code}`).toBe(code === e.code)
    }
  })

  it("narrows a relay's refusal, passes an unlisted code on as sent, and is false for look-alikes", () => {
    const caught: unknown = new MailboxError('RateLimited', 1500)
    if (!isNetworkError(caught, 'RateLimited')) throw new Error('not narrowed')
    expect(caught).toBeInstanceOf(MailboxError)
    expect((caught as MailboxError).retryAfterMs).toBe(1500)
    expect(new MailboxError('SomeFutureCode').code).toBe('SomeFutureCode')
    expect(isNetworkError(new MailboxError('QuotaExceeded'), 'RelayFull')).toBe(false)
    expect(isNetworkError(Object.assign(new Error('no record'), { code: 'ContactNotFound' }))).toBe(false)
    expect(isNetworkError({ code: 'ContactNotFound' }, 'ContactNotFound')).toBe(false)
    expect(isNetworkError(undefined)).toBe(false)
  })
})
