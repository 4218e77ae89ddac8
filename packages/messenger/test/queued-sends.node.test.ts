/** QueuedSends (crypto-store.ts): which texts of a contact still wait for their commit to settle. */
import { describe, expect, it } from 'vitest'
import { QueuedSends } from '../src/crypto-store.ts'

/** Whether `p` has resolved after the current microtasks ran. */
async function resolved(p: Promise<void>): Promise<boolean> {
  let done = false
  void p.then(() => {
    done = true
  })
  await new Promise((r) => setTimeout(r, 0))
  return done
}

describe('queued sends per contact', () => {
  it('settled() waits for every text queued before it, not for other contacts, and the map empties', async () => {
    const q = new QueuedSends()
    expect(await resolved(q.settled('bob'))).toBe(true)
    const one = q.queued('bob')
    const two = q.queued('bob')
    const carol = q.queued('carol')
    const waiting = q.settled('bob')
    expect(await resolved(q.settled('dave'))).toBe(true)
    one()
    // Settling twice counts once: the second text is still queued.
    one()
    expect(await resolved(waiting)).toBe(false)
    two()
    expect(await resolved(waiting)).toBe(true)
    expect(q.size).toBe(1)
    carol()
    expect(q.size).toBe(0)
  })

  it('a text queued after the earlier ones settled starts a new wait', async () => {
    const q = new QueuedSends()
    const first = q.queued('bob')
    const before = q.settled('bob')
    first()
    const second = q.queued('bob')
    expect(await resolved(before)).toBe(true)
    const after = q.settled('bob')
    expect(await resolved(after)).toBe(false)
    second()
    expect(await resolved(after)).toBe(true)
  })
})
