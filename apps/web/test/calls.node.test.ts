/** The web app's call log (src/calls.ts): bounded by MAX_CALL_LOG, malformed stored entries dropped, durations. */
import { describe, expect, it } from 'vitest'
import { appendCallEntry, type CallEntry, duration, parseCallLog } from '../src/calls.ts'
import { MAX_CALL_LOG } from '../src/constants.ts'

const entry = (i: number, extra: Partial<CallEntry> = {}): CallEntry => ({
  id: `c${i}`,
  contact: 'ab'.repeat(32),
  direction: i % 2 === 0 ? 'out' : 'in',
  video: true,
  startedAt: i * 1000,
  endedAt: i * 1000 + 500,
  reason: 'hangup',
  ...extra
})
const bytes = (v: unknown) => new TextEncoder().encode(JSON.stringify(v))

describe('call log', () => {
  it('keeps the newest MAX_CALL_LOG entries when one more is added', () => {
    let log: CallEntry[] = []
    for (let i = 0; i < MAX_CALL_LOG; i++) log = appendCallEntry(log, entry(i))
    expect(log).toHaveLength(MAX_CALL_LOG)
    log = appendCallEntry(log, entry(MAX_CALL_LOG))
    expect(log).toHaveLength(MAX_CALL_LOG)
    expect(log[0]?.id).toBe('c1')
    expect(log.at(-1)?.id).toBe(`c${MAX_CALL_LOG}`)
  })

  it('reads a stored log back, at most MAX_CALL_LOG entries, dropping malformed ones', () => {
    const good = Array.from({ length: MAX_CALL_LOG + 3 }, (_, i) => entry(i))
    expect(parseCallLog(bytes(good)).map((e) => e.id)).toEqual(good.slice(3).map((e) => e.id))
    const mixed = [entry(1), { ...entry(2), reason: 'x' }, { id: 3 }, null, 'text', entry(4, { connectedAt: 4200 })]
    expect(parseCallLog(bytes(mixed))).toEqual([entry(1), entry(4, { connectedAt: 4200 })])
    expect(parseCallLog(new TextEncoder().encode('{not json'))).toEqual([])
    expect(parseCallLog(bytes({ calls: [] }))).toEqual([])
  })

  it('formats durations as m:ss and h:mm:ss', () => {
    expect(duration(0)).toBe('0:00')
    expect(duration(65_400)).toBe('1:05')
    expect(duration(3_723_000)).toBe('1:02:03')
    expect(duration(-5)).toBe('0:00')
  })
})
