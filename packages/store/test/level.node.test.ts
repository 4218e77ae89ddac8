/**
 * The LevelDB backend on a real directory: round trip, reopen, wrong passphrase, synced writes, and a grep of the
 * raw files for anything that should have been encrypted.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Key } from 'interface-datastore'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  CorruptRecordError,
  createProfileStore,
  HEADER_KEY,
  openStore,
  UnsupportedBackendError,
  WrongPassphraseError
} from '../src/index.ts'
import { DurableLevelDatastore } from '../src/level.ts'
import { containsBytes, FAST, text } from './helpers/platform.ts'

const PASS = 'level passphrase'
let dir: string

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'parley-store-'))
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

async function allFileBytes(root: string): Promise<Uint8Array[]> {
  const out: Uint8Array[] = []
  for (const entry of await readdir(root, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out.push(new Uint8Array(await readFile(join(entry.parentPath, entry.name))))
  }
  return out
}

describe('LevelDB backend', () => {
  it('round trip, close, reopen with the right passphrase; a wrong one is WrongPassphraseError', async () => {
    const store = await createProfileStore(await openStore({ kind: 'level', path: dir }), PASS, {
      ...FAST,
      create: true
    })
    await store.put('identity', 'me', text('identity keys'))
    const batch = store.batch()
    for (let i = 0; i < 10; i++) batch.put('history', `chat/${i}`, text(`m${i}`))
    await batch.commit()
    await store.close()

    // A failed open leaves the backend open and the caller's: the user may simply retype the passphrase.
    const backend = await openStore({ kind: 'level', path: dir })
    await expect(createProfileStore(backend, 'not the passphrase', FAST)).rejects.toBeInstanceOf(WrongPassphraseError)
    const reopened = await createProfileStore(backend, PASS, FAST)
    expect(await reopened.get('identity', 'me')).toEqual(text('identity keys'))
    const keys = []
    for await (const e of reopened.query('history', { prefix: 'chat/' })) keys.push(e.key)
    expect(keys.sort()).toEqual(Array.from({ length: 10 }, (_, i) => `chat/${i}`).sort())
    await reopened.close()
  })

  it('the raw LevelDB files contain neither the plaintext marker nor the logical keys', async () => {
    const marker = 'PLAINTEXT-MARKER-91c4e2'
    const secrets = [marker, 'contact-7f00aa', 'history/contact-7f00aa/00042', 'alice@example']
    const store = await createProfileStore(await openStore({ kind: 'level', path: dir }), PASS, {
      ...FAST,
      create: true
    })
    for (let i = 0; i < 50; i++) {
      await store.put('history', `history/contact-7f00aa/${String(i).padStart(5, '0')}`, text(`${marker} #${i}`))
    }
    await store.put('contacts', 'contact-7f00aa', text(`alice@example ${marker}`))
    await store.close()

    const files = await allFileBytes(dir)
    expect(files.length).toBeGreaterThan(0)
    // The grep must be able to see data at all: the namespace names are stored in the clear, by design.
    expect(files.some((f) => containsBytes(f, text('/history/')))).toBe(true)
    for (const secret of secrets) {
      for (const f of files) expect(containsBytes(f, text(secret))).toBe(false)
    }
  })

  it('records swapped in the LevelDB files fail as CorruptRecordError', async () => {
    const backend = await openStore({ kind: 'level', path: dir })
    const store = await createProfileStore(backend, PASS, { ...FAST, create: true })
    await store.put('sessions', 'alice', text('a'))
    await store.put('sessions', 'bob', text('b'))
    const names: string[] = []
    for await (const key of backend.queryKeys({ prefix: '/sessions/' })) names.push(key.toString())
    const [a, b] = await Promise.all(names.map((n) => backend.get(new Key(n))))
    await backend.put(new Key(names[0]!), b!)
    await backend.put(new Key(names[1]!), a!)
    await expect(store.get('sessions', 'alice')).rejects.toBeInstanceOf(CorruptRecordError)
    await store.close()
  })

  it("puts, deletes and batches ask LevelDB for synced (fsync) writes; only a batch committed 'relaxed' skips its fsync", async () => {
    const backend = new DurableLevelDatastore(dir)
    await backend.open()
    const put = vi.spyOn(backend.db, 'put')
    const batch = vi.spyOn(backend.db, 'batch')
    const store = await createProfileStore(backend, PASS, { ...FAST, create: true })
    await store.put('history', 'a', text('1'))
    await store.delete('history', 'a')
    const b = store.batch()
    b.put('history', 'b', text('2'))
    await b.commit()
    expect(put).toHaveBeenCalledTimes(1) // the header; records go through the write queue's batches
    expect((put.mock.calls[0] as unknown[])[2]).toEqual({ sync: true })
    const options = () => (batch.mock.calls as unknown[][]).map((call) => call[1])
    expect(options()).toEqual([{ sync: true }, { sync: true }, { sync: true }])
    const relaxed = store.batch()
    relaxed.delete('history', 'b')
    await relaxed.commit({ durability: 'relaxed' })
    expect(options().at(-1)).toEqual({ sync: false })
    expect(await store.get('history', 'b')).toBeUndefined()
    await store.close()
  })

  it('the header is the only record outside a namespace', async () => {
    const backend = await openStore({ kind: 'level', path: dir })
    const store = await createProfileStore(backend, PASS, { ...FAST, create: true })
    await store.put('identity', 'x', text('y'))
    const keys: string[] = []
    for await (const key of backend.queryKeys({})) keys.push(key.toString())
    expect(keys.filter((key) => !key.startsWith('/identity/'))).toEqual([HEADER_KEY])
    await store.close()
  })

  it('openStore({ kind: "idb" }) is UnsupportedBackendError in Node', async () => {
    await expect(openStore({ kind: 'idb', name: 'x' })).rejects.toBeInstanceOf(UnsupportedBackendError)
  })
})
