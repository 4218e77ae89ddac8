/**
 * Fixed format-1 profile bytes (vectors/profile-v1.json), in Node and in Chromium: old profiles must keep opening,
 * and the format must not drift (same seed → same bytes). In Chromium this also proves that a profile written with
 * node:crypto scrypt opens with @noble/hashes scrypt and the browser's WebCrypto.
 */
import { Key } from 'interface-datastore'
import { fromString as uint8ArrayFromString } from 'uint8arrays'
import { describe, expect, it } from 'vitest'
import { AtomicMemoryDatastore } from '../src/testing.ts'
import { dump, loadEntry } from './helpers/platform.ts'
import { buildVectorProfile, hexDump, type ProfileVectors } from './vectors/build-profile-vectors.ts'

// A dynamic import with a variable part: see packages/crypto/test/vectors.test.ts for why not a static JSON import.
const vectorFile = 'profile-v1'
const v = ((await import(`./vectors/${vectorFile}.json`)) as { default: ProfileVectors }).default
const { createProfileStore, CorruptRecordError } = await loadEntry()

async function loadVectorStore(): Promise<InstanceType<typeof AtomicMemoryDatastore>> {
  const backend = new AtomicMemoryDatastore()
  for (const [key, hex] of Object.entries(v.datastore))
    await backend.put(new Key(key), uint8ArrayFromString(hex, 'base16'))
  return backend
}

describe('profile-v1.json', () => {
  it('the stored format-1 bytes open with the passphrase to exactly the listed entries', async () => {
    const store = await createProfileStore(await loadVectorStore(), v.passphrase, {
      namespaces: v.namespaces,
      unsafeFastKdfForTests: true
    })
    for (const ns of v.namespaces) {
      const got = new Map<string, string>()
      for await (const { key, value } of store.query(ns)) got.set(key, new TextDecoder().decode(value))
      const want = new Map(v.entries.filter((e) => e.namespace === ns).map((e) => [e.key, e.value]))
      expect(got).toEqual(want)
    }
    await store.close()
  })

  it('re-creating the profile from the seed gives the same bytes', async () => {
    const backend = new AtomicMemoryDatastore()
    await buildVectorProfile(createProfileStore, backend)
    expect(await hexDump(backend)).toEqual(v.datastore)
  })

  it('a vector record moved under another name fails as CorruptRecordError', async () => {
    const backend = await loadVectorStore()
    const names = [...(await dump(backend)).keys()].filter((k) => k.startsWith('/history/'))
    await backend.put(new Key(names[0]!), uint8ArrayFromString(v.datastore[names[1]!]!, 'base16'))
    const store = await createProfileStore(backend, v.passphrase, {
      namespaces: v.namespaces,
      unsafeFastKdfForTests: true
    })
    const read = async () => {
      for await (const _ of store.query('history'));
    }
    await expect(read()).rejects.toBeInstanceOf(CorruptRecordError)
  })
})
