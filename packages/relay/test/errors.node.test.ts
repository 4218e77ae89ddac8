/** Typed errors: `isRelayError(err, code)` is the way to branch on a failure, the mailbox service's refusals included. */
import { describe, expect, it } from 'vitest'
import {
  CorruptKeyFileError,
  DataDirLockedError,
  InvalidRelayOptionError,
  isRelayError,
  MailboxRefusedError,
  type RelayErrorCode
} from '../src/index.ts'

describe('isRelayError', () => {
  it('matches each error by its own code only', () => {
    const errors = [
      new InvalidRelayOptionError('maxReservations', 'a positive integer'),
      new CorruptKeyFileError('/data/peer-key'),
      new DataDirLockedError('/data'),
      new MailboxRefusedError('QuotaExceeded')
    ]
    const codes: RelayErrorCode[] = ['InvalidOption', 'CorruptKeyFile', 'DataDirLocked', 'QuotaExceeded']
    expect(errors.map((e) => e.code)).toEqual(codes)
    for (const e of errors) {
      expect(isRelayError(e)).toBe(true)
      for (const code of codes) expect(isRelayError(e, code), `${e.name} as ${code}`).toBe(code === e.code)
    }
  })

  it('narrows a refusal to its code and retry time, and is false for look-alikes', () => {
    const caught: unknown = new MailboxRefusedError('RateLimited', 2000)
    if (!isRelayError(caught, 'RateLimited')) throw new Error('not narrowed')
    expect((caught as MailboxRefusedError).retryAfterMs).toBe(2000)
    expect(isRelayError(new MailboxRefusedError('RelayFull'), 'QuotaExceeded')).toBe(false)
    expect(isRelayError(Object.assign(new Error('locked'), { code: 'DataDirLocked' }))).toBe(false)
    expect(isRelayError({ code: 'DataDirLocked' }, 'DataDirLocked')).toBe(false)
    expect(isRelayError(undefined)).toBe(false)
  })
})
