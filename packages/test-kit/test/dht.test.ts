/** untilFound: publish, look up, retry failed or unacceptable rounds, and give up naming what it waited for. */
import { describe, expect, it } from 'vitest'
import { type Discoverable, UntilTimeoutError, untilFound, untilFoundEachOther } from '../src/index.ts'

interface Rec {
  relays: number
}

/** An in-memory directory: a record appears on the third publish and gains a relay on each one after. */
function directory() {
  const records = new Map<string, Rec>()
  let publishes = 0
  const node = (id: number, lookupFails = false): Discoverable<Rec> => ({
    identityKey: new Uint8Array([id]),
    publish: async () => {
      publishes++
      if (publishes >= 3) records.set(String(id), { relays: publishes - 3 })
    },
    lookup: async (identity, options) => {
      if (lookupFails) {
        // Never answers: only the step's signal ends it.
        await new Promise((_, reject) =>
          options?.signal?.addEventListener('abort', () => reject(options.signal?.reason))
        )
      }
      const r = records.get(String(identity[0]))
      if (r === undefined) throw new Error('not found')
      return { ...r }
    }
  })
  return { node, publishes: () => publishes }
}

describe('untilFound', () => {
  it('publishes again until the seeker finds the record and accept holds, and returns that record', async () => {
    const d = directory()
    const [seeker, target] = [d.node(1), d.node(2)]
    const found = await untilFound(seeker, target, 5_000, "the target's record with two relays", {
      accept: (r) => r.relays >= 2
    })
    expect(found).toEqual({ relays: 2 })
    expect(d.publishes()).toBe(5)
  })

  it('a lookup that never answers is cut at stepMs each round and ends in UntilTimeoutError naming the record', async () => {
    const d = directory()
    const [seeker, target] = [d.node(1, true), d.node(2)]
    const err = await untilFound(seeker, target, 500, "the target's record", { stepMs: 50 }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(UntilTimeoutError)
    expect((err as UntilTimeoutError).message).toBe("timed out after 500 ms waiting for the target's record")
    expect(d.publishes()).toBeGreaterThanOrEqual(1)
  })
})

describe('untilFoundEachOther', () => {
  it('both publish each round; it returns once both records are found in one round and accept holds', async () => {
    const d = directory()
    const [a, b] = [d.node(1), d.node(2)]
    await untilFoundEachOther(a, b, 5_000, 'both records', { accept: (r) => r.relays >= 1 })
    // Round 1 (publishes 1, 2): no record yet. Round 2 (3, 4): b's record has no relay: not accepted. Round 3 (5, 6).
    expect(d.publishes()).toBe(6)
  })
})
