/** The README's first example runs as written and prints what its comments say. */
import { runReadmeExample } from '@parley/test-kit'
import { describe, expect, it } from 'vitest'

describe('README', () => {
  it('the first example runs under Node and prints what its comments promise', () => {
    // Run inside the package, so `@parley/wire` resolves to this package by its own name.
    const run = runReadmeExample(new URL('..', import.meta.url))
    expect(run.status, run.stderr).toBe(0)
    expect(run.stdout.trim().split('\n')).toEqual(['64', '/parley/dm/1.0.0 text', 'UnknownVersion', 'true'])
  })
})
