/**
 * The IndexedDB backend in a real Chromium: round trip, reopen, wrong passphrase, atomic strict-durability writes,
 * and a look at the raw IndexedDB contents. Browser only (the Node project excludes *.browser.test.ts).
 */
import { afterEach, describe, expect, it } from 'vitest'
import { DurableIdbDatastore } from '../src/idb.ts'
import {
  CorruptRecordError,
  createProfileStore,
  InvalidParameterError,
  openStore,
  PassphraseRequiredError,
  resolvePassphrase,
  UnsupportedBackendError,
  WrongPassphraseError
} from '../src/index.browser.ts'
import { containsBytes, FAST, text } from './helpers/platform.ts'

const PASS = 'idb passphrase'
const created: string[] = []

function dbName(): string {
  const name = `parley-store-test-${crypto.randomUUID()}`
  created.push(name)
  return name
}

function deleteDatabase(name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.deleteDatabase(name)
    req.onsuccess = () => resolve()
    req.onerror = () => reject(req.error)
  })
}

/** Every key and value in the database's object store, read with the raw IndexedDB API. */
function rawContents(name: string): Promise<Array<[string, Uint8Array]>> {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open(name)
    open.onerror = () => reject(open.error)
    open.onsuccess = () => {
      const db = open.result
      const tx = db.transaction(name, 'readonly')
      const keys = tx.objectStore(name).getAllKeys()
      const values = tx.objectStore(name).getAll()
      tx.oncomplete = () => {
        db.close()
        resolve(keys.result.map((k, i) => [String(k), values.result[i] as Uint8Array]))
      }
      tx.onerror = () => reject(tx.error)
    }
  })
}

afterEach(async () => {
  for (const name of created.splice(0)) await deleteDatabase(name)
})

describe('IndexedDB backend', () => {
  it('runs in a browser', () => {
    expect(typeof indexedDB).toBe('object')
    expect(typeof (globalThis as { window?: unknown }).window).toBe('object')
  })

  it('round trip, close, reopen with the right passphrase; a wrong one is WrongPassphraseError', async () => {
    const name = dbName()
    const store = await createProfileStore(await openStore({ kind: 'idb', name }), PASS, { ...FAST, create: true })
    await store.put('identity', 'me', text('identity keys'))
    const batch = store.batch()
    for (let i = 0; i < 10; i++) batch.put('history', `chat/${i}`, text(`m${i}`))
    batch.delete('identity', 'nothing-here')
    await batch.commit()
    await store.delete('history', 'chat/9')
    await store.close()

    const backend = await openStore({ kind: 'idb', name })
    await expect(createProfileStore(backend, 'not it', FAST)).rejects.toBeInstanceOf(WrongPassphraseError)
    const reopened = await createProfileStore(backend, PASS, FAST)
    expect(await reopened.get('identity', 'me')).toEqual(text('identity keys'))
    const keys = []
    for await (const e of reopened.query('history', { prefix: 'chat/' })) keys.push(e.key)
    expect(keys.sort()).toEqual(Array.from({ length: 9 }, (_, i) => `chat/${i}`).sort())
    await reopened.close()
  })

  it('the raw IndexedDB contents hold neither the plaintext marker nor the logical keys', async () => {
    const name = dbName()
    const marker = 'PLAINTEXT-MARKER-b7d1'
    const store = await createProfileStore(await openStore({ kind: 'idb', name }), PASS, { ...FAST, create: true })
    for (let i = 0; i < 5; i++) await store.put('history', `contact-5eed/${i}`, text(`${marker} ${i}`))
    await store.close()
    const raw = await rawContents(name)
    expect(raw.length).toBe(6) // header + 5 records
    expect(raw.some(([k]) => k.startsWith('/history/'))).toBe(true)
    for (const [key, value] of raw) {
      expect(key).not.toContain('contact-5eed')
      expect(containsBytes(value, text(marker))).toBe(false)
      expect(containsBytes(value, text('contact-5eed'))).toBe(false)
    }
  })

  it('records swapped in IndexedDB fail as CorruptRecordError', async () => {
    const name = dbName()
    const backend = await openStore({ kind: 'idb', name })
    const store = await createProfileStore(backend, PASS, { ...FAST, create: true })
    await store.put('sessions', 'alice', text('a'))
    await store.put('sessions', 'bob', text('b'))
    const pairs = []
    for await (const pair of backend.query({ prefix: '/sessions/' })) pairs.push(pair)
    const swap = backend.batch()
    swap.put(pairs[0]!.key, pairs[1]!.value)
    swap.put(pairs[1]!.key, pairs[0]!.value)
    await swap.commit()
    await expect(store.get('sessions', 'alice')).rejects.toBeInstanceOf(CorruptRecordError)
    await store.close()
  })

  it('a batch that fails inside its transaction writes nothing and reports the failure', async () => {
    const name = dbName()
    const backend = new DurableIdbDatastore(name)
    await backend.open()
    const { Key } = await import('interface-datastore')
    const batch = backend.batch()
    batch.put(new Key('/history/first'), text('1'))
    // Not structured-cloneable: the second put throws DataCloneError, so the first must be rolled back.
    batch.put(new Key('/history/second'), (() => {}) as unknown as Uint8Array)
    await expect(batch.commit()).rejects.toMatchObject({ name: 'DataCloneError' })
    expect(await backend.has(new Key('/history/first'))).toBe(false)
    await backend.close()
  })

  it('writes use strict-durability transactions', async () => {
    const name = dbName()
    const backend = new DurableIdbDatastore(name)
    await backend.open()
    const seen: string[] = []
    const original = IDBDatabase.prototype.transaction
    IDBDatabase.prototype.transaction = function (this: IDBDatabase, ...args: Parameters<typeof original>) {
      const tx = original.apply(this, args)
      if (tx.mode === 'readwrite') seen.push(tx.durability)
      return tx
    }
    try {
      const { Key } = await import('interface-datastore')
      await backend.put(new Key('/a/x'), text('1'))
      await backend.delete(new Key('/a/x'))
      const b = backend.batch()
      b.put(new Key('/a/y'), text('2'))
      await b.commit()
    } finally {
      IDBDatabase.prototype.transaction = original
    }
    expect(seen).toEqual(['strict', 'strict', 'strict'])
    await backend.close()
  })

  it('LevelDB is UnsupportedBackendError in the browser', async () => {
    await expect(openStore({ kind: 'level', path: '/tmp/x' })).rejects.toBeInstanceOf(UnsupportedBackendError)
  })
})

describe('resolvePassphrase (browser)', () => {
  it('takes a string, else asks the prompt; files and the environment are refused', async () => {
    expect(await resolvePassphrase({ passphrase: 'typed' })).toBe('typed')
    expect(await resolvePassphrase({ prompt: async () => 'asked' })).toBe('asked')
    await expect(resolvePassphrase({ prompt: async () => '' })).rejects.toBeInstanceOf(PassphraseRequiredError)
    await expect(resolvePassphrase()).rejects.toBeInstanceOf(PassphraseRequiredError)
    await expect(resolvePassphrase({ file: '/etc/passphrase' } as object)).rejects.toBeInstanceOf(InvalidParameterError)
  })
})
