/** Protocol ids: the defaults, an overridden prefix for the simulator, and prefixes refused. */
import { describe, expect, it } from 'vitest'
import { DEFAULT_PROTOCOL_PREFIX, InvalidParameterError, protocols } from '../src/index.ts'
import { expectWireError } from './helpers.ts'

describe('protocols', () => {
  it('the defaults are under /parley', () => {
    expect(DEFAULT_PROTOCOL_PREFIX).toBe('/parley')
    expect(protocols()).toEqual({
      kad: '/parley/kad/1.0.0',
      dm: '/parley/dm/1.0.0',
      session: '/parley/session/1.0.0',
      prekeys: '/parley/prekeys/1.0.0',
      mailbox: '/parley/mailbox/1.0.0'
    })
  })

  it('a simulator prefix keeps separate networks apart', () => {
    const sim = protocols('/parley-sim/run-7')
    expect(sim.kad).toBe('/parley-sim/run-7/kad/1.0.0')
    expect(sim.mailbox).toBe('/parley-sim/run-7/mailbox/1.0.0')
    expect(new Set([...Object.values(sim), ...Object.values(protocols())]).size).toBe(10)
  })

  it('a prefix without a leading slash, with a trailing slash, empty segments or spaces is refused', () => {
    for (const bad of ['', '/', 'parley', '/parley/', '//parley', '/par ley', '/parley\n', '/pärley']) {
      expectWireError(() => protocols(bad), InvalidParameterError)
    }
  })
})
