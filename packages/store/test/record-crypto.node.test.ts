/**
 * The two record-primitive implementations (node:crypto for the Node entry, WebCrypto for browsers) must be
 * interchangeable: a store written with one opens with the other, byte for byte the same records from the same seed.
 * Only Node can run both, hence a .node test. Also the record-name cache: repeated keys skip the HMAC, it stays
 * bounded, query scans do not fill it, and the name re-check is as strict with cached names as without.
 */
import { readFile } from 'node:fs/promises'
import fc from 'fast-check'
import { Key } from 'interface-datastore'
import { describe, expect, it } from 'vitest'
import { CorruptRecordError, MAX_CACHED_RECORD_NAMES } from '../src/index.ts'
import { nodeScrypt } from '../src/kdf-node.ts'
import { ProfileKeys } from '../src/keys.ts'
import { NameCache } from '../src/name-cache.ts'
import { openProfileStore, type StorePlatform } from '../src/profile-store.ts'
import type { RecordCrypto, RecordKeys } from '../src/record-crypto.ts'
import { nodeRecordCrypto } from '../src/record-crypto-node.ts'
import { webRecordCrypto } from '../src/record-crypto-web.ts'
import { AtomicMemoryDatastore } from '../src/testing.ts'
import { FAST, NS, seededRandom, text } from './helpers/platform.ts'
import { buildVectorProfile, hexDump, type ProfileVectors } from './vectors/build-profile-vectors.ts'

const PASS = 'interop passphrase'
const IMPLEMENTATIONS = [
  ['node:crypto', nodeRecordCrypto],
  ['WebCrypto', webRecordCrypto]
] as const
const platformOf = (records: RecordCrypto, maxCachedRecordNames?: number): StorePlatform => ({
  scrypt: nodeScrypt,
  records,
  maxCachedRecordNames
})
const INFO = ['test/record', 'test/name'] as const

/** One put, a batch with puts, an overwrite and a delete, from a fixed seed. */
async function writeProfile(records: RecordCrypto, backend = new AtomicMemoryDatastore()) {
  const store = await openProfileStore(platformOf(records), backend, PASS, {
    ...FAST,
    create: true,
    random: seededRandom('interop')
  })
  await store.put('identity', 'me', text('identity'))
  const batch = store.batch()
  for (let i = 0; i < 20; i++) batch.put('history', `chat/alice/${i}`, text(`message ${i}`))
  batch.put('contacts', 'zoë/🔑', new Uint8Array(0))
  batch.put('history', 'chat/alice/3', text('edited'))
  batch.delete('history', 'chat/alice/7')
  await batch.commit()
  await store.close()
  return backend
}

async function readAll(records: RecordCrypto, backend: AtomicMemoryDatastore) {
  const store = await openProfileStore(platformOf(records), backend, PASS, FAST)
  const out: Record<string, string> = {}
  for (const ns of NS) {
    for await (const { key, value } of store.query(ns)) out[`${ns}:${key}`] = new TextDecoder().decode(value)
  }
  expect(await store.get('history', 'chat/alice/3')).toEqual(text('edited'))
  expect(await store.get('history', 'chat/alice/7')).toBeUndefined()
  expect(await store.get('contacts', 'zoë/🔑')).toEqual(new Uint8Array(0))
  await store.close()
  return out
}

describe('node:crypto and WebCrypto records are interchangeable', () => {
  it('the same seed gives byte-identical datastores with either implementation', async () => {
    const viaNode = await hexDump(await writeProfile(nodeRecordCrypto))
    const viaWeb = await hexDump(await writeProfile(webRecordCrypto))
    expect(Object.keys(viaNode)).toHaveLength(1 + 1 + 20 + 1 - 1)
    expect(viaNode).toEqual(viaWeb)
  })

  for (const [writer, writeWith] of IMPLEMENTATIONS) {
    for (const [reader, readWith] of IMPLEMENTATIONS) {
      it(`a store written with ${writer} opens with ${reader}`, async () => {
        const all = await readAll(readWith, await writeProfile(writeWith))
        expect(Object.keys(all)).toHaveLength(21)
        expect(all['history:chat/alice/0']).toBe('message 0')
        expect(all['identity:me']).toBe('identity')
      })
    }
  }

  it('the format-1 vectors open, and are re-created byte for byte, with WebCrypto records in Node too', async () => {
    // (vectors.test.ts does the same through each runtime's entry: node:crypto in Node, WebCrypto in Chromium.)
    const v: ProfileVectors = JSON.parse(await readFile(new URL('./vectors/profile-v1.json', import.meta.url), 'utf8'))
    for (const [, records] of IMPLEMENTATIONS) {
      const backend = new AtomicMemoryDatastore()
      for (const [key, hex] of Object.entries(v.datastore)) await backend.put(new Key(key), Buffer.from(hex, 'hex'))
      const store = await openProfileStore(platformOf(records), backend, v.passphrase, {
        namespaces: v.namespaces,
        unsafeFastKdfForTests: true
      })
      for (const e of v.entries) expect(await store.get(e.namespace, e.key)).toEqual(text(e.value))
      await store.close()
      const rebuilt = new AtomicMemoryDatastore()
      await buildVectorProfile((b, p, o) => openProfileStore(platformOf(records), b, p, o), rebuilt)
      expect(await hexDump(rebuilt)).toEqual(v.datastore)
    }
  })

  it('property: the primitives agree on names and open each other’s sealed bytes; any altered bit fails both', async () => {
    const dataKey = new Uint8Array(32).fill(9)
    const node = await nodeRecordCrypto.deriveRecordKeys(dataKey, ...INFO)
    const web = await webRecordCrypto.deriveRecordKeys(dataKey, ...INFO)
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 300 }),
        fc.uint8Array({ minLength: 12, maxLength: 12 }),
        fc.uint8Array({ maxLength: 80 }),
        fc.nat(),
        async (message, nonce, ad, flip) => {
          expect(await node.name(message)).toBe(await web.name(message))
          const sealedByNode = await node.seal(nonce, message, ad)
          expect(await web.seal(nonce, message, ad)).toEqual(sealedByNode)
          expect(await node.open(nonce, sealedByNode, ad)).toEqual(message)
          expect(await web.open(nonce, sealedByNode, ad)).toEqual(message)
          // One flipped bit in the sealed bytes, the nonce or the associated data (the sealed bytes if that is empty).
          const inputs = [sealedByNode.slice(), nonce.slice(), ad.slice()]
          const part = inputs[flip % 3]!.length > 0 ? inputs[flip % 3]! : inputs[0]!
          const bit = Math.floor(flip / 3) % (part.length * 8)
          part[bit >> 3]! ^= 1 << (bit & 7)
          const [s, n, a] = inputs
          for (const keys of [node, web] as RecordKeys[]) {
            await expect((async () => keys.open(n!, s!, a!))()).rejects.toThrow()
          }
        }
      ),
      { numRuns: 150 }
    )
  })

  it('node:crypto open returns a plain Uint8Array and refuses input shorter than a tag', async () => {
    const node = await nodeRecordCrypto.deriveRecordKeys(new Uint8Array(32), ...INFO)
    const nonce = new Uint8Array(12)
    const opened = await node.open(nonce, await node.seal(nonce, text('abc'), new Uint8Array(0)), new Uint8Array(0))
    expect(Object.getPrototypeOf(opened)).toBe(Uint8Array.prototype)
    expect(() => node.open(nonce, new Uint8Array(15), new Uint8Array(0))).toThrow()
  })
})

/** A RecordCrypto that counts HMAC calls of the keys it derives. */
function countingNames(inner: RecordCrypto): { records: RecordCrypto; calls: () => number } {
  let calls = 0
  return {
    calls: () => calls,
    records: {
      async deriveRecordKeys(dataKey, recordInfo, nameInfo) {
        const keys = await inner.deriveRecordKeys(dataKey, recordInfo, nameInfo)
        return {
          name: (message) => {
            calls++
            return keys.name(message)
          },
          seal: (nonce, plaintext, ad) => keys.seal(nonce, plaintext, ad),
          open: (nonce, sealed, ad) => keys.open(nonce, sealed, ad)
        }
      }
    }
  }
}

describe('the record-name cache', () => {
  it('NameCache is a bounded LRU: use refreshes an entry, the least recently used leaves first; 0 is off', () => {
    const cache = new NameCache(2)
    cache.set('history', 'a', '/history/aa')
    cache.set('history', 'b', '/history/bb')
    expect(cache.get('history', 'a')).toBe('/history/aa') // a is now the most recent
    cache.set('history', 'c', '/history/cc')
    expect(cache.size).toBe(2)
    expect(cache.get('history', 'b')).toBeUndefined()
    expect(cache.get('history', 'a')).toBe('/history/aa')
    expect(cache.get('contacts', 'a')).toBeUndefined() // the namespace is part of the entry
    const off = new NameCache(0)
    off.set('history', 'a', '/history/aa')
    expect(off.get('history', 'a')).toBeUndefined()
    expect(MAX_CACHED_RECORD_NAMES).toBe(4096)
  })

  it('repeated get, put, has and delete of a key compute its name once; the verify on open reuses it', async () => {
    const { records, calls } = countingNames(nodeRecordCrypto)
    const store = await openProfileStore(platformOf(records), new AtomicMemoryDatastore(), PASS, {
      ...FAST,
      create: true
    })
    await store.put('history', 'k', text('1'))
    await store.put('history', 'k', text('2'))
    expect(await store.get('history', 'k')).toEqual(text('2'))
    expect(await store.has('history', 'k')).toBe(true)
    const batch = store.batch()
    batch.put('history', 'k', text('3'))
    await batch.commit()
    expect(await store.get('history', 'k')).toEqual(text('3'))
    await store.delete('history', 'k')
    expect(calls()).toBe(1)
    // Same logical key, other namespace: another name.
    await store.put('sessions', 'k', text('s'))
    expect(calls()).toBe(2)
    await store.close()
  })

  it('stays bounded: keys beyond the bound are recomputed, and everything still reads back right', async () => {
    const { records, calls } = countingNames(webRecordCrypto)
    const store = await openProfileStore(platformOf(records, 4), new AtomicMemoryDatastore(), PASS, {
      ...FAST,
      create: true
    })
    for (let i = 0; i < 10; i++) await store.put('history', `k${i}`, text(`v${i}`))
    expect(calls()).toBe(10)
    for (let i = 9; i >= 6; i--) expect(await store.get('history', `k${i}`)).toEqual(text(`v${i}`))
    expect(calls()).toBe(10) // the last four written are cached
    expect(await store.get('history', 'k0')).toEqual(text('v0'))
    expect(calls()).toBe(11) // long evicted
    for (let i = 0; i < 10; i++) expect(await store.get('history', `k${i}`)).toEqual(text(`v${i}`))
    await store.close()
  })

  it('a query scan verifies names without filling the cache', async () => {
    const { records, calls } = countingNames(nodeRecordCrypto)
    const backend = new AtomicMemoryDatastore()
    const writer = await openProfileStore(platformOf(nodeRecordCrypto), backend, PASS, { ...FAST, create: true })
    for (let i = 0; i < 5; i++) await writer.put('history', `k${i}`, text(`v${i}`))
    await writer.close()
    const store = await openProfileStore(platformOf(records), backend, PASS, FAST)
    await store.get('history', 'k0') // cached by use
    expect(calls()).toBe(1)
    for (let round = 1; round <= 2; round++) {
      let n = 0
      for await (const _ of store.query('history')) n++
      expect(n).toBe(5)
      expect(calls()).toBe(1 + 4 * round) // k0 from the cache, the other four computed and not kept
    }
    await store.close()
  })

  for (const [name, records] of IMPLEMENTATIONS) {
    for (const maxCachedNames of [0, 16]) {
      it(`${name}, cache ${maxCachedNames}: a record that authenticates under A's name but embeds key B is refused`, async () => {
        const keys = await ProfileKeys.fromDataKey(
          records,
          new Uint8Array(32).fill(1),
          seededRandom('x'),
          maxCachedNames
        )
        const nameA = await keys.storageKey('history', 'a')
        await keys.storageKey('history', 'b') // both names cached (when the cache is on)
        const forged = await keys.seal(nameA, 'b', text('b value'))
        await expect(keys.open('history', nameA, forged)).rejects.toThrow(/embedded key does not match/)
        await expect(keys.open('history', nameA, forged, false)).rejects.toBeInstanceOf(CorruptRecordError)
        const genuine = await keys.seal(nameA, 'a', text('a value'))
        expect((await keys.open('history', nameA, genuine)).value).toEqual(text('a value'))
        // And the cached name really is the HMAC: a cold ProfileKeys computes the same.
        const cold = await ProfileKeys.fromDataKey(records, new Uint8Array(32).fill(1), seededRandom('x'), 0)
        expect(await cold.storageKey('history', 'a')).toBe(nameA)
      })
    }
  }
})
