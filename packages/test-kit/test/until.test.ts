/** The shared wait: resolves once the condition holds (sync or async), times out naming what it waited for. */
import { describe, expect, it } from 'vitest'
import { UNTIL_POLL_MS, UntilTimeoutError, until } from '../src/index.ts'

describe('until', () => {
  it('resolves as soon as an async condition turns true, polling every UNTIL_POLL_MS', async () => {
    let calls = 0
    const start = Date.now()
    await until(async () => ++calls >= 3, 5_000, 'the third call')
    expect(calls).toBe(3)
    expect(Date.now() - start).toBeGreaterThanOrEqual(2 * UNTIL_POLL_MS - 5)
  })

  it('times out with UntilTimeoutError naming the condition and the limit', async () => {
    const err = await until(() => false, 120, 'a thing that never happens').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(UntilTimeoutError)
    expect((err as UntilTimeoutError).message).toBe('timed out after 120 ms waiting for a thing that never happens')
    expect((err as UntilTimeoutError).code).toBe('UntilTimeout')
  })
})
