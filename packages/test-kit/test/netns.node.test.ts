/** assertInNetns outside the test network namespace: a typed failure naming what is missing and the command. */
import { afterEach, describe, expect, it } from 'vitest'
import { assertInNetns, NETNS_PEER_HOST, NETNS_RELAY_HOST, NotInNetnsError } from '../src/index.ts'

const saved = process.env.PARLEY_NETNS
afterEach(() => {
  if (saved === undefined) delete process.env.PARLEY_NETNS
  else process.env.PARLEY_NETNS = saved
})

function failure(): NotInNetnsError {
  try {
    assertInNetns()
  } catch (e) {
    if (e instanceof NotInNetnsError) return e
    throw e
  }
  throw new Error('assertInNetns did not throw outside the namespace')
}

describe('assertInNetns', () => {
  it('outside the namespace throws NotInNetnsError naming both test addresses, PARLEY_NETNS and the command', () => {
    delete process.env.PARLEY_NETNS
    const err = failure()
    expect(err.code).toBe('NotInNetns')
    expect(err.missing).toEqual([NETNS_RELAY_HOST, NETNS_PEER_HOST, 'PARLEY_NETNS=1'])
    expect(err.message).toContain('scripts/netns.ts')
  })

  it('PARLEY_NETNS=1 alone is not enough: the test addresses must be on an interface', () => {
    process.env.PARLEY_NETNS = '1'
    expect(failure().missing).toEqual([NETNS_RELAY_HOST, NETNS_PEER_HOST])
  })
})
