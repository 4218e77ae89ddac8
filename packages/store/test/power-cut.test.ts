/**
 * Crash consistency: PowerCutDatastore keeps only what was acknowledged, and a profile store reopened from the image
 * shows every acknowledged batch whole and no trace of an unacknowledged one.
 */
import fc from 'fast-check'
import { Key } from 'interface-datastore'
import { describe, expect, it, vi } from 'vitest'
import { AtomicMemoryDatastore, PowerCutDatastore } from '../src/testing.ts'
import { dump, FAST, loadEntry, text } from './helpers/platform.ts'

const { createProfileStore, PowerCutError } = await loadEntry()

const PASS = 'power cut passphrase'
const k = (s: string) => new Key(s)

describe('PowerCutDatastore', () => {
  it('an acknowledged put survives the cut; a put still waiting for its sync does not', async () => {
    const disk = new PowerCutDatastore()
    await disk.put(k('/a'), text('1'))
    disk.holdSyncs()
    const pending = disk.put(k('/b'), text('2'))
    await vi.waitFor(() => expect(disk.pendingSyncs).toBe(1), { interval: 1 })
    // The running process already reads the unsynced write (it sits in the page cache)…
    expect(await disk.get(k('/b'))).toEqual(text('2'))
    const image = disk.cut()
    // …but it was never acknowledged and is gone after the cut.
    await expect(pending).rejects.toBeInstanceOf(PowerCutError)
    expect(await dump(image)).toEqual(new Map([['/a', text('1')]]))
  })

  it('released syncs become durable in order', async () => {
    const disk = new PowerCutDatastore()
    disk.holdSyncs()
    const first = disk.put(k('/x'), text('first'))
    const second = disk.put(k('/x'), text('second'))
    const gone = disk.delete(k('/y'))
    await vi.waitFor(() => expect(disk.pendingSyncs).toBe(3), { interval: 1 })
    expect(disk.durableSnapshot().size).toBe(0)
    disk.releaseSyncs(1)
    await first
    expect(disk.durableSnapshot()).toEqual(new Map([['/x', text('first')]]))
    expect(disk.pendingSyncs).toBe(2)
    disk.releaseSyncs()
    await Promise.all([first, second, gone])
    expect(await dump(disk.cut())).toEqual(new Map([['/x', text('second')]]))
  })

  it('a dead datastore refuses every call', async () => {
    const disk = new PowerCutDatastore()
    disk.cut()
    await expect(disk.put(k('/a'), text('1'))).rejects.toBeInstanceOf(PowerCutError)
    await expect(disk.get(k('/a'))).rejects.toBeInstanceOf(PowerCutError)
    await expect(disk.batch().commit()).rejects.toBeInstanceOf(PowerCutError)
    expect(disk.isCut).toBe(true)
  })

  it('wrap() counts what the wrapped store already holds as durable', async () => {
    const inner = new AtomicMemoryDatastore()
    await inner.put(k('/old'), text('o'))
    const disk = await PowerCutDatastore.wrap(inner)
    await disk.put(k('/new'), text('n'))
    expect(await dump(disk.cut())).toEqual(
      new Map([
        ['/old', text('o')],
        ['/new', text('n')]
      ])
    )
  })
})

describe('power cut under a profile store', () => {
  it('a relaxed batch is readable at once but lost in a cut unless a synced write followed it; then it lands whole, before that write', async () => {
    const disk = new PowerCutDatastore()
    const store = await createProfileStore(disk, PASS, { ...FAST, create: true })
    const marker = store.batch()
    marker.put('sessions', 'marker', text('m'))
    await marker.commit()
    const forget = store.batch()
    forget.delete('sessions', 'marker')
    forget.put('sessions', 'other', text('o'))
    await forget.commit({ durability: 'relaxed' })
    expect(await store.get('sessions', 'marker')).toBeUndefined()
    // A cut now: the relaxed batch never reached the durable image.
    const copy = await PowerCutDatastore.wrap(disk.cut())
    const reopened = await createProfileStore(copy, PASS, FAST)
    expect(await reopened.get('sessions', 'marker')).toEqual(text('m'))
    expect(await reopened.get('sessions', 'other')).toBeUndefined()
    // Relaxed again, then a synced write: both are in the image, the relaxed one first.
    const again = reopened.batch()
    again.delete('sessions', 'marker')
    again.put('sessions', 'other', text('o1'))
    await again.commit({ durability: 'relaxed' })
    const strict = reopened.batch()
    strict.put('sessions', 'other', text('o2'))
    await strict.commit()
    const after = await createProfileStore(copy.cut(), PASS, FAST)
    expect(await after.get('sessions', 'marker')).toBeUndefined()
    expect(await after.get('sessions', 'other')).toEqual(text('o2'))
    await after.close()
  })

  it('an acknowledged batch survives a power cut; an unacknowledged one leaves no trace', async () => {
    const disk = new PowerCutDatastore()
    const store = await createProfileStore(disk, PASS, { ...FAST, create: true })

    const acknowledged = store.batch()
    for (let i = 0; i < 5; i++) acknowledged.put('history', `chat/${i}`, text(`message ${i}`))
    acknowledged.put('sessions', 'alice', text('ratchet state 1'))
    await acknowledged.commit()

    disk.holdSyncs()
    const inFlight = store.batch()
    for (let i = 5; i < 10; i++) inFlight.put('history', `chat/${i}`, text(`message ${i}`))
    inFlight.put('sessions', 'alice', text('ratchet state 2'))
    inFlight.delete('history', 'chat/0')
    const commit = inFlight.commit()
    await vi.waitFor(() => expect(disk.pendingSyncs).toBe(1), { interval: 1 })
    expect(await store.get('sessions', 'alice')).toEqual(text('ratchet state 2')) // visible, not yet durable

    const neverCommitted = store.batch()
    neverCommitted.put('history', 'draft', text('never committed'))

    const image = disk.cut()
    await expect(commit).rejects.toBeInstanceOf(PowerCutError)

    const reopened = await createProfileStore(image, PASS, FAST)
    const history = new Map<string, string>()
    for await (const { key, value } of reopened.query('history')) history.set(key, new TextDecoder().decode(value))
    expect(history).toEqual(new Map(Array.from({ length: 5 }, (_, i) => [`chat/${i}`, `message ${i}`])))
    expect(await reopened.get('sessions', 'alice')).toEqual(text('ratchet state 1'))
    await reopened.close()
  })

  it('a power cut during profile creation leaves either no profile or a complete one', async () => {
    const disk = new PowerCutDatastore()
    disk.holdSyncs()
    const creating = createProfileStore(disk, PASS, { ...FAST, create: true })
    await vi.waitFor(() => expect(disk.pendingSyncs).toBe(1), { interval: 1 })
    const image = disk.cut()
    await expect(creating).rejects.toBeInstanceOf(PowerCutError)
    expect((await dump(image)).size).toBe(0)
    // Nothing half-made: creating again on the image just works.
    await expect(createProfileStore(image, PASS, { ...FAST, create: true })).resolves.toBeDefined()
  })

  it('property: after a cut at any point, the reopened profile holds the acknowledged batches and no part of the rest', async () => {
    type Op = { put: boolean; key: string; value: number }
    const op = fc.record({ put: fc.boolean(), key: fc.constantFrom('a', 'b', 'c', 'd/1', 'd/2'), value: fc.nat(99) })
    const batches = fc.array(fc.array(op, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 6 })
    const applied = (model: Map<string, string>, ops: Op[], tag = '') => {
      const next = new Map(model)
      for (const o of ops) {
        if (o.put) next.set(o.key, `${tag}${o.value}`)
        else next.delete(o.key)
      }
      return next
    }
    await fc.assert(
      fc.asyncProperty(batches, fc.nat(), fc.nat(8), async (all: Op[][], cutSeed: number, releases: number) => {
        const acknowledgedCount = cutSeed % (all.length + 1)
        const disk = new PowerCutDatastore()
        const store = await createProfileStore(disk, PASS, { ...FAST, create: true })
        let model = new Map<string, string>()
        for (const ops of all.slice(0, acknowledgedCount)) {
          const batch = store.batch()
          for (const o of ops) {
            if (o.put) batch.put('history', o.key, text(String(o.value)))
            else batch.delete('history', o.key)
          }
          await batch.commit()
          model = applied(model, ops)
        }
        // The last batch is in flight when the power goes, after `releases` of its syncs (if it has several) went
        // through: the image must show it whole (if its commit resolved) or not at all, never in part.
        const next = all[acknowledgedCount]
        let inFlight: Promise<'acknowledged'> | undefined
        let settled = false
        if (next !== undefined) {
          disk.holdSyncs()
          const batch = store.batch()
          for (const o of next) {
            if (o.put) batch.put('history', o.key, text(`late ${o.value}`))
            else batch.delete('history', o.key)
          }
          inFlight = batch.commit().then(() => 'acknowledged' as const)
          inFlight.then(
            () => {
              settled = true
            },
            () => {
              settled = true
            }
          )
          for (let i = 0; i < releases && !settled; i++) {
            await vi.waitFor(() => expect(settled || disk.pendingSyncs > 0).toBe(true), { interval: 1 })
            disk.releaseSyncs(1)
            await new Promise((resolve) => setTimeout(resolve, 0))
          }
          if (!settled) await vi.waitFor(() => expect(disk.pendingSyncs).toBe(1), { interval: 1 })
        }
        const image = disk.cut()
        const outcome = await inFlight?.catch((err: unknown) => err)
        const reopened = await createProfileStore(image, PASS, FAST)
        const seen = new Map<string, string>()
        for await (const { key, value } of reopened.query('history')) seen.set(key, new TextDecoder().decode(value))
        if (next === undefined) expect(seen).toEqual(model)
        else if (outcome === 'acknowledged') expect(seen).toEqual(applied(model, next, 'late '))
        else {
          expect(outcome).toBeInstanceOf(PowerCutError)
          expect(seen).toEqual(model)
        }
      }),
      { numRuns: 40 }
    )
  })
})
