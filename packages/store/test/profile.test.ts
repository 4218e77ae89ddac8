/**
 * The encrypted profile store on the in-memory backend, with this runtime's KDF (node:crypto in Node, @noble/hashes
 * in Chromium): round trips, passphrases, tampering, limits, queries and batches.
 */
import { Key } from 'interface-datastore'
import { describe, expect, it } from 'vitest'
import { AtomicMemoryDatastore } from '../src/testing.ts'
import { containsBytes, dump, FAST, loadEntry, NS, seededRandom, text } from './helpers/platform.ts'

const {
  CorruptRecordError,
  createProfileStore,
  HEADER_KEY,
  InvalidParameterError,
  KdfParametersError,
  MAX_BATCH_OPERATIONS,
  MAX_KEY_BYTES,
  MAX_VALUE_BYTES,
  openStore,
  PassphraseRequiredError,
  ProfileNotFoundError,
  RecordTooLargeError,
  StoreClosedError,
  UnknownFormatVersionError,
  WriteFailedError,
  WrongPassphraseError
} = await loadEntry()

const PASS = 'correct horse battery staple'

async function freshProfile(backend = new AtomicMemoryDatastore()) {
  const store = await createProfileStore(backend, PASS, { ...FAST, create: true })
  return { backend, store }
}

/** The datastore keys of every record (not the header). */
async function recordKeys(backend: InstanceType<typeof AtomicMemoryDatastore>): Promise<string[]> {
  return [...(await dump(backend)).keys()].filter((k) => k !== HEADER_KEY)
}

async function rewriteHeader(
  backend: InstanceType<typeof AtomicMemoryDatastore>,
  edit: (h: Record<string, unknown>) => void
): Promise<void> {
  const h = JSON.parse(new TextDecoder().decode(await backend.get(new Key(HEADER_KEY))))
  edit(h)
  await backend.put(new Key(HEADER_KEY), text(JSON.stringify(h)))
}

describe('round trip on the memory backend', () => {
  it('put, get, has, overwrite and delete a record', async () => {
    const { store } = await freshProfile()
    expect(await store.get('history', 'a')).toBeUndefined()
    expect(await store.has('history', 'a')).toBe(false)
    await store.put('history', 'a', text('one'))
    expect(await store.get('history', 'a')).toEqual(text('one'))
    expect(await store.has('history', 'a')).toBe(true)
    await store.put('history', 'a', text('two'))
    expect(await store.get('history', 'a')).toEqual(text('two'))
    await store.delete('history', 'a')
    expect(await store.get('history', 'a')).toBeUndefined()
    await store.delete('history', 'a') // deleting an absent key is not an error
    await store.close()
  })

  it('empty values, empty keys and non-ASCII keys round-trip', async () => {
    const { store } = await freshProfile()
    await store.put('contacts', '', new Uint8Array(0))
    await store.put('contacts', 'zoë/ünïcode/🔑', text('v'))
    expect(await store.get('contacts', '')).toEqual(new Uint8Array(0))
    expect(await store.get('contacts', 'zoë/ünïcode/🔑')).toEqual(text('v'))
  })

  it('openStore({ kind: "memory" }) gives a working backend', async () => {
    const backend = await openStore({ kind: 'memory' })
    const store = await createProfileStore(backend, PASS, { ...FAST, create: true })
    await store.put('identity', 'me', text('x'))
    expect(await store.get('identity', 'me')).toEqual(text('x'))
    await store.close()
  })
})

describe('opening a profile', () => {
  it('reopens after close with the right passphrase', async () => {
    const { backend, store } = await freshProfile()
    await store.put('sessions', 'peer-1', text('state'))
    await store.close()
    const again = await createProfileStore(backend, PASS, FAST)
    expect(await again.get('sessions', 'peer-1')).toEqual(text('state'))
  })

  it('a wrong passphrase is WrongPassphraseError', async () => {
    const { backend, store } = await freshProfile()
    await store.close()
    await expect(createProfileStore(backend, 'Correct horse battery staple', FAST)).rejects.toBeInstanceOf(
      WrongPassphraseError
    )
    await expect(createProfileStore(backend, 'wrong', { ...FAST, create: true })).rejects.toMatchObject({
      code: 'WrongPassphrase'
    })
  })

  it('an empty backend without create is ProfileNotFoundError', async () => {
    await expect(createProfileStore(new AtomicMemoryDatastore(), PASS, FAST)).rejects.toBeInstanceOf(
      ProfileNotFoundError
    )
  })

  it('an empty passphrase is PassphraseRequiredError', async () => {
    await expect(createProfileStore(new AtomicMemoryDatastore(), '', { ...FAST, create: true })).rejects.toBeInstanceOf(
      PassphraseRequiredError
    )
  })

  it('the passphrase is NFKC-normalised: composed and decomposed accents open the same profile', async () => {
    const backend = new AtomicMemoryDatastore()
    const store = await createProfileStore(backend, 'caf\u00e9 au lait', { ...FAST, create: true })
    await store.close()
    await expect(createProfileStore(backend, 'cafe\u0301 au lait', FAST)).resolves.toBeDefined()
  })

  it('creating over a store that holds records but no header is refused', async () => {
    const { backend, store } = await freshProfile()
    await store.put('history', 'x', text('y'))
    await store.close()
    await backend.delete(new Key(HEADER_KEY))
    await expect(createProfileStore(backend, PASS, { ...FAST, create: true })).rejects.toBeInstanceOf(
      CorruptRecordError
    )
  })

  it('a header from an unknown format version is UnknownFormatVersionError', async () => {
    const { backend, store } = await freshProfile()
    await store.close()
    await rewriteHeader(backend, (h) => {
      h.version = 2
    })
    await expect(createProfileStore(backend, PASS, FAST)).rejects.toMatchObject({
      name: 'UnknownFormatVersionError',
      version: 2
    })
  })

  it('a garbled header is CorruptRecordError', async () => {
    const { backend, store } = await freshProfile()
    await store.close()
    await backend.put(new Key(HEADER_KEY), text('{"format":"parley-store","version":1,"kdf":'))
    await expect(createProfileStore(backend, PASS, FAST)).rejects.toBeInstanceOf(CorruptRecordError)
  })

  it('KDF parameters altered in the header do not open the profile (they are bound to the wrapped key)', async () => {
    const { backend, store } = await freshProfile()
    await store.close()
    await rewriteHeader(backend, (h) => {
      ;(h.kdf as { logN: number }).logN = 11
    })
    await expect(createProfileStore(backend, PASS, FAST)).rejects.toBeInstanceOf(WrongPassphraseError)
  })

  it('a test-cost profile is refused unless the test option is given', async () => {
    const { backend, store } = await freshProfile()
    await store.close()
    await expect(createProfileStore(backend, PASS, { namespaces: NS })).rejects.toBeInstanceOf(KdfParametersError)
  })

  it('a header asking for more KDF memory than allowed is refused before the KDF runs', async () => {
    const { backend, store } = await freshProfile()
    await store.close()
    await rewriteHeader(backend, (h) => {
      ;(h.kdf as { logN: number }).logN = 24 // 2 GiB at r = 8
    })
    await expect(createProfileStore(backend, PASS, FAST)).rejects.toBeInstanceOf(KdfParametersError)
  })

  it('invalid namespace lists are InvalidParameterError', async () => {
    const backend = new AtomicMemoryDatastore()
    for (const namespaces of [[], ['History'], ['has/slash'], ['_parley'], ['x'.repeat(33)]]) {
      await expect(
        createProfileStore(backend, PASS, { namespaces, unsafeFastKdfForTests: true, create: true })
      ).rejects.toBeInstanceOf(InvalidParameterError)
    }
  })

  it('changePassphrase: the new passphrase opens the profile, the old one no longer does', async () => {
    const { backend, store } = await freshProfile()
    await store.put('identity', 'me', text('keys'))
    await expect(store.changePassphrase('not it', 'new pass')).rejects.toBeInstanceOf(WrongPassphraseError)
    await store.changePassphrase(PASS, 'new pass')
    expect(await store.get('identity', 'me')).toEqual(text('keys')) // the open store keeps working
    await store.close()
    await expect(createProfileStore(backend, PASS, FAST)).rejects.toBeInstanceOf(WrongPassphraseError)
    const reopened = await createProfileStore(backend, 'new pass', FAST)
    expect(await reopened.get('identity', 'me')).toEqual(text('keys'))
  })

  it('the same seed gives byte-identical stores (the random source is injectable)', async () => {
    const build = async () => {
      const backend = new AtomicMemoryDatastore()
      const store = await createProfileStore(backend, PASS, { ...FAST, create: true, random: seededRandom('s') })
      await store.put('history', 'k', text('v'))
      return dump(backend)
    }
    expect(await build()).toEqual(await build())
  })
})

describe('what the backend sees', () => {
  it('record names are keyed hashes: no logical key, value or namespace-crossing link is visible', async () => {
    const { backend, store } = await freshProfile()
    const marker = 'PLAINTEXT-MARKER-7f3a'
    await store.put('history', 'contact-alice/00001', text(`${marker} hello alice`))
    await store.put('contacts', 'contact-alice/00001', text(marker))
    const raw = await dump(backend)
    for (const [key, value] of raw) {
      for (const secret of ['contact-alice', marker, 'hello']) {
        expect(key).not.toContain(secret)
        expect(containsBytes(value, text(secret))).toBe(false)
      }
    }
    const names = (await recordKeys(backend)).map((k) => k.split('/'))
    expect(names.map((n) => n[1]).sort()).toEqual(['contacts', 'history'])
    for (const n of names) expect(n[2]).toMatch(/^[0-9a-f]{64}$/)
    // The same logical key in two namespaces must not share a name (that would link the two records).
    expect(names[0]![2]).not.toBe(names[1]![2])
  })

  it('two records swapped on disk fail as CorruptRecordError', async () => {
    const { backend, store } = await freshProfile()
    await store.put('sessions', 'alice', text('alice session'))
    await store.put('sessions', 'bob', text('bob session'))
    const [ka, kb] = await recordKeys(backend)
    const va = await backend.get(new Key(ka!))
    const vb = await backend.get(new Key(kb!))
    await backend.put(new Key(ka!), vb)
    await backend.put(new Key(kb!), va)
    await expect(store.get('sessions', 'alice')).rejects.toBeInstanceOf(CorruptRecordError)
    await expect(store.get('sessions', 'bob')).rejects.toBeInstanceOf(CorruptRecordError)
  })

  it('a record copied into another namespace under the same name fails as CorruptRecordError', async () => {
    const { backend, store } = await freshProfile()
    await store.put('contacts', 'alice', text('contact card'))
    const [k] = await recordKeys(backend)
    const name = k!.split('/')[2]!
    await backend.put(new Key(`/history/${name}`), await backend.get(new Key(k!)))
    await expect(store.query('history')[Symbol.asyncIterator]().next()).rejects.toBeInstanceOf(CorruptRecordError)
  })

  it('a flipped bit anywhere in a record is CorruptRecordError; an unknown version byte is UnknownFormatVersionError', async () => {
    const { backend, store } = await freshProfile()
    await store.put('history', 'm', text('message body'))
    const [k] = await recordKeys(backend)
    const original = await backend.get(new Key(k!))
    for (let i = 1; i < original.length; i += 7) {
      const bad = original.slice()
      bad[i]! ^= 0x01
      await backend.put(new Key(k!), bad)
      await expect(store.get('history', 'm')).rejects.toBeInstanceOf(CorruptRecordError)
    }
    const newer = original.slice()
    newer[0] = 2
    await backend.put(new Key(k!), newer)
    await expect(store.get('history', 'm')).rejects.toBeInstanceOf(UnknownFormatVersionError)
    await backend.put(new Key(k!), original.subarray(0, 20))
    await expect(store.get('history', 'm')).rejects.toBeInstanceOf(CorruptRecordError)
    await backend.put(new Key(k!), original)
    expect(await store.get('history', 'm')).toEqual(text('message body'))
  })
})

describe('queries', () => {
  it('a query returns only its own namespace', async () => {
    const { store } = await freshProfile()
    await store.put('history', 'h1', text('1'))
    await store.put('history', 'h2', text('2'))
    await store.put('contacts', 'h1', text('c'))
    await store.put('sessions', 's', text('s'))
    const got = new Map<string, string>()
    for await (const { key, value } of store.query('history')) got.set(key, new TextDecoder().decode(value))
    expect(got).toEqual(
      new Map([
        ['h1', '1'],
        ['h2', '2']
      ])
    )
    const contacts = []
    for await (const e of store.query('contacts')) contacts.push(e.key)
    expect(contacts).toEqual(['h1'])
    const none = []
    for await (const e of store.query('identity')) none.push(e)
    expect(none).toEqual([])
  })

  it('a query with a prefix filters logical keys; limit caps the result', async () => {
    const { store } = await freshProfile()
    for (let i = 0; i < 5; i++) await store.put('history', `chat-a/${i}`, text(`a${i}`))
    for (let i = 0; i < 3; i++) await store.put('history', `chat-b/${i}`, text(`b${i}`))
    await store.put('history', 'chat-', text('bare'))
    const a = []
    for await (const e of store.query('history', { prefix: 'chat-a/' })) a.push(e.key)
    expect(a.sort()).toEqual(['chat-a/0', 'chat-a/1', 'chat-a/2', 'chat-a/3', 'chat-a/4'])
    const limited = []
    for await (const e of store.query('history', { prefix: 'chat-b/', limit: 2 })) limited.push(e.key)
    expect(limited).toHaveLength(2)
    for (const k of limited) expect(k.startsWith('chat-b/')).toBe(true)
    let all = 0
    for await (const _ of store.query('history', { prefix: 'chat-' })) all++
    expect(all).toBe(9)
    let zero = 0
    for await (const _ of store.query('history', { limit: 0 })) zero++
    expect(zero).toBe(0)
  })

  it('an aborted query stops', async () => {
    const { store } = await freshProfile()
    await store.put('history', 'x', text('1'))
    const controller = new AbortController()
    controller.abort()
    await expect(
      store.query('history', { signal: controller.signal })[Symbol.asyncIterator]().next()
    ).rejects.toMatchObject({ name: 'AbortError' })
  })
})

describe('batches', () => {
  it('a committed batch applies every put and delete; nothing is visible before commit', async () => {
    const { store } = await freshProfile()
    await store.put('history', 'old', text('old'))
    const batch = store.batch()
    batch.put('history', 'a', text('A'))
    batch.put('sessions', 'b', text('B'))
    batch.delete('history', 'old')
    batch.put('history', 'a', text('A2')) // later operation on the same key wins
    expect(await store.get('history', 'a')).toBeUndefined()
    expect(await store.get('history', 'old')).toEqual(text('old'))
    await batch.commit()
    expect(await store.get('history', 'a')).toEqual(text('A2'))
    expect(await store.get('sessions', 'b')).toEqual(text('B'))
    expect(await store.get('history', 'old')).toBeUndefined()
  })

  it('a batch aborted before commit writes nothing', async () => {
    const { backend, store } = await freshProfile()
    const before = await dump(backend)
    const batch = store.batch()
    batch.put('history', 'a', text('A'))
    batch.put('history', 'b', text('B'))
    const controller = new AbortController()
    controller.abort()
    await expect(batch.commit({ signal: controller.signal })).rejects.toMatchObject({ name: 'AbortError' })
    expect(await dump(backend)).toEqual(before)
  })

  it('group commit: concurrent batches share backend commits, and each resolves only once its own write is durable', async () => {
    let commits = 0
    let release: (() => void) | undefined
    class SlowCommit extends AtomicMemoryDatastore {
      override batch() {
        const inner = super.batch()
        return {
          put: inner.put,
          delete: inner.delete,
          commit: async () => {
            commits++
            // The first commit is held (a slow fsync); the writes arriving meanwhile must queue behind it.
            if (commits === 1) await new Promise<void>((r) => (release = r))
            await inner.commit()
          }
        }
      }
    }
    const backend = new SlowCommit()
    const store = await createProfileStore(backend, PASS, { ...FAST, create: true })
    commits = 0
    const done: number[] = []
    const writes = Array.from({ length: 20 }, (_, i) => {
      const b = store.batch()
      b.put('history', `k${i}`, text(`v${i}`))
      b.put('history', `j${i}`, text(`w${i}`))
      return b.commit().then(() => done.push(i))
    })
    while (release === undefined) await new Promise((r) => setTimeout(r, 1))
    await new Promise((r) => setTimeout(r, 20))
    // Only the first batch has reached the backend, and nobody was told it is durable yet.
    expect(commits).toBe(1)
    expect(done).toEqual([])
    release()
    await Promise.all(writes)
    // 20 writes: the held one, then everything that queued meanwhile together.
    expect(commits).toBe(2)
    for (let i = 0; i < 20; i++) expect(await store.get('history', `j${i}`)).toEqual(text(`w${i}`))
  })

  it('a batch whose backend commit fails writes nothing; the writes queued behind it and every later write are refused as WriteFailedError (fail-stop), reads still work', async () => {
    let full = false
    let release: (() => void) | undefined
    class FailingCommit extends AtomicMemoryDatastore {
      override batch() {
        const inner = super.batch()
        return {
          put: inner.put,
          delete: inner.delete,
          commit: async () => {
            if (!full) return inner.commit()
            // Held like a slow fsync, so that other writes queue behind it, then the disk is full.
            await new Promise<void>((r) => (release = r))
            throw new Error('disk full')
          }
        }
      }
    }
    const backend = new FailingCommit()
    const store = await createProfileStore(backend, PASS, { ...FAST, create: true })
    await store.put('history', 'kept', text('k'))
    const before = await dump(backend)
    full = true
    const batch = store.batch()
    batch.put('history', 'a', text('A'))
    batch.delete('history', 'kept')
    const failing = batch.commit()
    while (release === undefined) await new Promise((r) => setTimeout(r, 1))
    // Queued while the failing batch is in flight: it may build on it, so it must not land either.
    let queued = false
    const behind = store.batch()
    behind.put('history', 'b', text('B'))
    const refused = behind.commit({ onQueued: () => (queued = true) })
    await new Promise((r) => setTimeout(r, 5))
    expect(queued).toBe(true)
    release()
    await expect(failing).rejects.toThrow('disk full')
    await expect(refused).rejects.toBeInstanceOf(WriteFailedError)
    await expect(store.put('history', 'c', text('C'))).rejects.toMatchObject({ code: 'WriteFailed' })
    await expect(store.delete('history', 'kept')).rejects.toBeInstanceOf(WriteFailedError)
    expect(await dump(backend)).toEqual(before)
    expect(await store.get('history', 'kept')).toEqual(text('k'))
  })

  it('onQueued runs once the batch has its place in the write order, before it is durable; a batch committed after that lands in the same backend commit or a later one', async () => {
    const order: string[] = []
    let release: (() => void) | undefined
    let hold = false
    class SlowCommit extends AtomicMemoryDatastore {
      override batch() {
        const inner = super.batch()
        const keys: string[] = []
        return {
          put: (key: Key, value: Uint8Array) => {
            keys.push(key.toString())
            inner.put(key, value)
          },
          delete: inner.delete,
          commit: async () => {
            order.push(`commit of ${keys.length}`)
            if (hold) await new Promise<void>((r) => (release = r))
            await inner.commit()
          }
        }
      }
    }
    const store = await createProfileStore(new SlowCommit(), PASS, { ...FAST, create: true })
    hold = true
    const first = store.batch()
    first.put('sessions', 'alice', text('v1'))
    let firstDurable = false
    const firstDone = first.commit({ onQueued: () => order.push('first queued') }).then(() => (firstDurable = true))
    while (release === undefined) await new Promise((r) => setTimeout(r, 1))
    expect(order).toEqual(['first queued', 'commit of 1'])
    expect(firstDurable).toBe(false)
    hold = false
    // The next read-modify-write may start now; its write can only land after the first one.
    const second = store.batch()
    second.put('sessions', 'alice', text('v2'))
    second.put('sessions', 'bob', text('b'))
    const secondDone = second.commit({ onQueued: () => order.push('second queued') })
    await new Promise((r) => setTimeout(r, 5))
    expect(order).toEqual(['first queued', 'commit of 1', 'second queued'])
    release()
    await Promise.all([firstDone, secondDone])
    expect(order).toEqual(['first queued', 'commit of 1', 'second queued', 'commit of 2'])
    expect(await store.get('sessions', 'alice')).toEqual(text('v2'))
  })

  it("a relaxed batch is readable once its commit resolves; durability is 'strict' or 'relaxed', anything else is InvalidParameterError", async () => {
    const { store } = await freshProfile()
    const b = store.batch()
    b.put('history', 'x', text('1'))
    await expect(b.commit({ durability: 'lazy' as never })).rejects.toBeInstanceOf(InvalidParameterError)
    const ok = store.batch()
    ok.put('history', 'x', text('1'))
    await ok.commit({ durability: 'relaxed' })
    expect(await store.get('history', 'x')).toEqual(text('1'))
  })

  it('a batch is single use; a value changed after put() is not what gets written', async () => {
    const { store } = await freshProfile()
    const batch = store.batch()
    const value = text('first')
    batch.put('history', 'a', value)
    value.fill(0)
    await batch.commit()
    expect(await store.get('history', 'a')).toEqual(text('first'))
    expect(() => batch.put('history', 'b', text('B'))).toThrow(StoreClosedError)
    await expect(batch.commit()).rejects.toBeInstanceOf(StoreClosedError)
  })

  it(`a batch refuses operation ${MAX_BATCH_OPERATIONS + 1}`, async () => {
    const { store } = await freshProfile()
    const batch = store.batch()
    for (let i = 0; i < MAX_BATCH_OPERATIONS; i++) batch.delete('history', `k${i}`)
    expect(() => batch.delete('history', 'one-more')).toThrow(RecordTooLargeError)
  })
})

describe('limits and bad input', () => {
  it(`keys up to ${MAX_KEY_BYTES} UTF-8 bytes and values up to ${MAX_VALUE_BYTES} bytes; beyond is RecordTooLargeError`, async () => {
    const { store } = await freshProfile()
    const longKey = 'k'.repeat(MAX_KEY_BYTES)
    await store.put('history', longKey, text('v'))
    expect(await store.get('history', longKey)).toEqual(text('v'))
    await expect(store.put('history', `${longKey}k`, text('v'))).rejects.toBeInstanceOf(RecordTooLargeError)
    // Multi-byte characters count in bytes, not UTF-16 units.
    await expect(store.get('history', 'é'.repeat(MAX_KEY_BYTES / 2 + 1))).rejects.toMatchObject({
      code: 'RecordTooLarge',
      limit: MAX_KEY_BYTES
    })
    const big = new Uint8Array(MAX_VALUE_BYTES).fill(7)
    await store.put('history', 'big', big)
    expect((await store.get('history', 'big'))?.length).toBe(MAX_VALUE_BYTES)
    await expect(store.put('history', 'bigger', new Uint8Array(MAX_VALUE_BYTES + 1))).rejects.toMatchObject({
      name: 'RecordTooLargeError',
      size: MAX_VALUE_BYTES + 1
    })
    expect(() => store.batch().put('history', 'bigger', new Uint8Array(MAX_VALUE_BYTES + 1))).toThrow(
      RecordTooLargeError
    )
  })

  it('an unknown namespace, a lone surrogate in a key or a non-byte value is InvalidParameterError', async () => {
    const { store } = await freshProfile()
    await expect(store.get('other' as 'history', 'a')).rejects.toBeInstanceOf(InvalidParameterError)
    expect(() => store.query('other' as 'history')).toThrow(InvalidParameterError)
    await expect(store.put('history', 'a\ud800', text('v'))).rejects.toBeInstanceOf(InvalidParameterError)
    await expect(store.put('history', 'a', 'text' as unknown as Uint8Array)).rejects.toBeInstanceOf(
      InvalidParameterError
    )
  })

  it('an aborted signal stops get, put and delete before they touch the backend', async () => {
    const { backend, store } = await freshProfile()
    const before = await dump(backend)
    const signal = AbortSignal.abort()
    await expect(store.put('history', 'a', text('A'), { signal })).rejects.toMatchObject({ name: 'AbortError' })
    await expect(store.get('history', 'a', { signal })).rejects.toMatchObject({ name: 'AbortError' })
    await expect(store.delete('history', 'a', { signal })).rejects.toMatchObject({ name: 'AbortError' })
    expect(await dump(backend)).toEqual(before)
  })

  it('an aborted signal stops opening a profile', async () => {
    await expect(
      createProfileStore(new AtomicMemoryDatastore(), PASS, { ...FAST, create: true, signal: AbortSignal.abort() })
    ).rejects.toMatchObject({ name: 'AbortError' })
  })

  it('close waits for running writes, then every call is StoreClosedError', async () => {
    const { backend, store } = await freshProfile()
    const writes = Array.from({ length: 20 }, (_, i) => store.put('history', `k${i}`, text(`${i}`)))
    await store.close()
    await Promise.all(writes)
    expect((await recordKeys(backend)).length).toBe(20)
    await expect(store.get('history', 'k1')).rejects.toBeInstanceOf(StoreClosedError)
    await expect(store.put('history', 'k1', text('x'))).rejects.toBeInstanceOf(StoreClosedError)
    expect(() => store.batch()).toThrow(StoreClosedError)
    await store.close() // idempotent
  })
})
