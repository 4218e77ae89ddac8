/** The README's first example runs as written and prints what its comment says. */
import { runReadmeExample } from '@parley/test-kit'
import { describe, expect, it } from 'vitest'

describe('README', () => {
  it('the key schedule and SFrame example runs under Node and round-trips the frame', () => {
    const run = runReadmeExample(new URL('..', import.meta.url))
    expect(run.status, run.stderr).toBe(0)
    expect(run.stdout.trim()).toBe('one encoded video frame')
  })
})
