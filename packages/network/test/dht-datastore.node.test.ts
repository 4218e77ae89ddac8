/**
 * Finding 6 (DHT part) — the DHT record store is bounded. Every record costs an attacker one fresh identity key and
 * one PUT; the store holds at most a named number of records and bytes, evicts expired records first and then the
 * oldest received, never the node's own record, and refuses a put only when nothing may go. Over a real LevelDB, as a
 * relay keeps it.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair, publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { Libp2pRecord } from '@libp2p/record'
import { LevelDatastore } from 'datastore-level'
import { Key } from 'interface-datastore'
import { toString as uint8ArrayToString } from 'uint8arrays'
import { afterEach, describe, expect, it } from 'vitest'
import { MonotonicRecordDatastore, RecordStoreFullError } from '../src/index.ts'
import { signedRecord } from './helpers.ts'

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {})
})

async function level(): Promise<LevelDatastore> {
  const dir = await mkdtemp(join(tmpdir(), 'parley-dht-store-'))
  const store = new LevelDatastore(join(dir, 'dht'))
  await store.open()
  cleanups.push(() => rm(dir, { recursive: true, force: true }))
  cleanups.push(() => store.close())
  return store
}

/** kad-dht's datastore key and stored bytes for a record. */
async function entry(options: Parameters<typeof signedRecord>[0] = {}): Promise<{ key: Key; value: Uint8Array }> {
  const r = await signedRecord(options)
  const name = uint8ArrayToString(r.key.subarray(-8), 'base16')
  return { key: new Key(`/dht/record/${name}`), value: new Libp2pRecord(r.key, r.value, new Date()).serialize() }
}

describe('bounded DHT record store', () => {
  it('past its record bound it evicts expired records first, then the oldest received, and never our own record', async () => {
    const now = Date.now()
    const device = await generateKeyPair('Ed25519')
    const disk = await level()
    const store = new MonotonicRecordDatastore(undefined, {
      records: disk,
      maxRecords: 3,
      ownDeviceKey: publicKeyToProtobuf(device.publicKey),
      now: () => now
    })
    const own = await entry({ device, now })
    const expired = await entry({ now: now - 3600_000, expiresAt: now - 1 })
    const first = await entry({ now })
    const second = await entry({ now })
    const third = await entry({ now })
    for (const e of [own, first, expired]) await store.put(e.key, e.value)
    await store.put(second.key, second.value)
    // The expired record went, although `first` was received before it.
    expect(await store.has(expired.key)).toBe(false)
    expect(await store.has(first.key)).toBe(true)
    await store.put(third.key, third.value)
    // Then the oldest received that is not ours.
    expect(await store.has(first.key)).toBe(false)
    for (const e of [own, second, third]) expect(await store.has(e.key)).toBe(true)
    expect(store.stats()).toMatchObject({ records: 3, evicted: 2, refused: 0 })
    // What the LevelDB holds is what the store says it holds.
    let onDisk = 0
    for await (const _ of disk.queryKeys({ prefix: '/dht/record' })) onDisk++
    expect(onDisk).toBe(3)
  })

  it('past its byte bound it evicts too, and with only our own record left a new one is refused', async () => {
    const device = await generateKeyPair('Ed25519')
    const own = await entry({ device })
    const other = await entry()
    const store = new MonotonicRecordDatastore(undefined, {
      records: await level(),
      maxBytes: own.value.length + other.value.length - 1,
      ownDeviceKey: publicKeyToProtobuf(device.publicKey)
    })
    await store.put(own.key, own.value)
    await expect(store.put(other.key, other.value)).rejects.toBeInstanceOf(RecordStoreFullError)
    expect(await store.has(own.key)).toBe(true)
    expect(store.stats()).toMatchObject({ records: 1, refused: 1 })
  })

  it('a store reopened over the same LevelDB knows what it holds and keeps the bound', async () => {
    const disk = await level()
    const before = new MonotonicRecordDatastore(undefined, { records: disk, maxRecords: 2 })
    const a = await entry()
    const b = await entry()
    const c = await entry()
    await before.put(a.key, a.value)
    await before.put(b.key, b.value)
    const after = await new MonotonicRecordDatastore(undefined, { records: disk, maxRecords: 2 }).load()
    expect(after.stats()).toMatchObject({ records: 2, bytes: a.value.length + b.value.length })
    await after.put(c.key, c.value)
    expect(after.stats().records).toBe(2)
    expect(await after.has(c.key)).toBe(true)
  })
})
