/**
 * Rate limits key on the source address range, not on the peer id: peer ids are free, address ranges are not.
 * IPv4 /24, IPv6 /64; a relayed (circuit) connection counts under the relay that carried it.
 */
import type { Multiaddr } from '@multiformats/multiaddr'

/** Expands an IPv6 address to its eight 16-bit groups (IPv4-mapped tails included). */
function ipv6Groups(address: string): number[] {
  const zoneless = address.split('%')[0]!
  let head = zoneless
  const tail: number[] = []
  const v4 = zoneless.match(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/)
  if (v4 !== null) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number]
    tail.push((a << 8) | b, (c << 8) | d)
    head = zoneless.slice(0, zoneless.length - v4[0].length).replace(/:$/, ':0')
    if (head.endsWith('::0')) head = head.slice(0, -1)
  }
  const [left = '', right] = head.split('::')
  const parse = (s: string) => (s === '' ? [] : s.split(':').map((g) => Number.parseInt(g, 16) || 0))
  const l = parse(left)
  const r = right === undefined ? [] : parse(right)
  const fill = 8 - tail.length - l.length - r.length
  return [...l, ...new Array(Math.max(0, fill)).fill(0), ...r, ...tail].slice(0, 8)
}

/** `ip4:a.b.c` (/24), `ip6:g0:g1:g2:g3` (/64), or `other:<protocols>` for anything else (circuits, memory). */
export function sourceRange(addr: Multiaddr | undefined): string {
  if (addr === undefined) return 'other:unknown'
  const components = addr.getComponents()
  if (components.some((c) => c.name === 'p2p-circuit')) {
    // Everyone behind one relay shares its range: the relay is the source we see.
    const relay = components.find((c) => c.name === 'p2p')?.value ?? 'unknown'
    return `circuit:${relay}`
  }
  const first = components[0]
  if (first?.name === 'ip4' && first.value !== undefined) {
    return `ip4:${first.value.split('.').slice(0, 3).join('.')}`
  }
  if (first?.name === 'ip6' && first.value !== undefined) {
    return `ip6:${ipv6Groups(first.value)
      .slice(0, 4)
      .map((g) => g.toString(16))
      .join(':')}`
  }
  return `other:${components.map((c) => c.name).join('/')}`
}

/** Whether `range` (a sourceRange() result) is an IP address range, the only kind address caps apply to. */
export function isIpRange(range: string): boolean {
  return range.startsWith('ip4:') || range.startsWith('ip6:')
}
