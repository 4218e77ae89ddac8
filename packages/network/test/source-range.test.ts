/** Address ranges the caps count by: IPv4 /24, IPv6 /64 (however the address is written), circuits under their relay. */
import { multiaddr } from '@multiformats/multiaddr'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isIpRange, sourceRange } from '../src/source-range.ts'

const RELAY = '12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN'

describe('sourceRange', () => {
  it('groups IPv4 by /24 and IPv6 by /64, whatever the notation', () => {
    expect(sourceRange(multiaddr('/ip4/203.0.113.7/tcp/4001'))).toBe('ip4:203.0.113')
    expect(sourceRange(multiaddr('/ip4/203.0.114.7/tcp/4001'))).toBe('ip4:203.0.114')
    for (const a of ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::1', '2001:0db8:0001:0002:ffff::'])
      expect(sourceRange(multiaddr(`/ip6/${a}/tcp/4001`))).toBe('ip6:2001:db8:1:2')
    expect(sourceRange(multiaddr('/ip6/2001:db8::1/tcp/1'))).toBe('ip6:2001:db8:0:0')
    expect(sourceRange(multiaddr(`/ip4/203.0.113.7/tcp/4001/p2p/${RELAY}/p2p-circuit`))).toBe(`circuit:${RELAY}`)
    expect(isIpRange('ip4:203.0.113')).toBe(true)
    expect(isIpRange(`circuit:${RELAY}`)).toBe(false)
    expect(isIpRange(sourceRange(undefined))).toBe(false)
  })

  it('two IPv6 addresses share a range exactly when their first 64 bits agree', () => {
    const group = fc.integer({ min: 0, max: 0xffff })
    const address = fc.array(group, { minLength: 8, maxLength: 8 })
    fc.assert(
      fc.property(address, address, (a, b) => {
        const text = (g: number[]) => g.map((x) => x.toString(16)).join(':')
        const same = a.slice(0, 4).every((x, i) => x === b[i])
        const ra = sourceRange(multiaddr(`/ip6/${text(a)}/tcp/1`))
        const rb = sourceRange(multiaddr(`/ip6/${text([...a.slice(0, 4), ...b.slice(4)])}/tcp/1`))
        expect(ra).toBe(rb)
        expect(ra === sourceRange(multiaddr(`/ip6/${text(b)}/tcp/1`))).toBe(same)
      }),
      { numRuns: 2_000 }
    )
  })
})
