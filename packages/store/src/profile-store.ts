/**
 * The encrypted profile store: one passphrase-protected data key encrypts every record of a profile, and record
 * names are keyed hashes so the disk shows categories, counts and sizes but not who or what.
 */
import { type Datastore, Key } from 'interface-datastore'
import { fromString as utf8 } from 'uint8arrays'
import {
  HEADER_KEY,
  MAX_BATCH_BYTES,
  MAX_BATCH_OPERATIONS,
  MAX_KEY_BYTES,
  MAX_VALUE_BYTES,
  NAMESPACE_PATTERN
} from './constants.ts'
import { CorruptRecordError, InvalidParameterError, RecordTooLargeError, StoreClosedError } from './errors.ts'
import { encodeHeader } from './header.ts'
import type { AbortOptions, ScryptFunction } from './kdf.ts'
import { defaultRandom, type Entry, ProfileKeys, type RandomSource } from './keys.ts'
import type { RecordCrypto } from './record-crypto.ts'
import { checkPassphrase, getOrUndefined, newHeader, unlock, unlockOrCreate } from './unlock.ts'
import { type Durability, type SealedWrite, WriteQueue } from './write-queue.ts'

export type { Durability } from './write-queue.ts'

/**
 * What an entry point binds for its platform: scrypt (node:crypto or @noble/hashes) and the record primitives
 * (node:crypto or WebCrypto). Internal; the benchmark and the interoperability tests pick them explicitly.
 */
export interface StorePlatform {
  readonly scrypt: ScryptFunction
  readonly records: RecordCrypto
  /** Bound of the record-name cache (default MAX_CACHED_RECORD_NAMES; 0 turns it off). */
  readonly maxCachedRecordNames?: number
}

/** Options of createProfileStore. */
export interface ProfileStoreOptions<N extends string> extends AbortOptions {
  /**
   * The fixed set of namespaces (record categories) this profile uses, e.g. `['identity', 'sessions', 'history']`.
   * Names are visible on disk, so they must say what kind of record, never whose: lowercase, `[a-z][a-z0-9-]*`,
   * at most 32 characters.
   */
  namespaces: readonly N[]
  /** Create a new profile if the backend holds none (default false: ProfileNotFoundError). */
  create?: boolean
  /** Random source for salt, data key and nonces (default: the platform CSPRNG). */
  random?: RandomSource
  /**
   * Tests only: new profiles get scrypt N = 2^10 instead of 2^17, and such profiles may be opened. Anyone who reads
   * the disk can then try passphrases ~100× faster. Never set this outside tests.
   */
  unsafeFastKdfForTests?: boolean
}

/** Options of query(). */
export interface QueryOptions extends AbortOptions {
  /** Only logical keys starting with this string. Filtered after decryption: the disk cannot order by key. */
  prefix?: string
  /** Return at most this many entries (after the prefix filter). */
  limit?: number
}

/** A set of writes that lands whole or not at all. Single use: after commit() it refuses further calls. */
export interface ProfileBatch<N extends string = string> {
  /** Queues a put. Checks namespace, key and size at once (throws here, not at commit). The value is copied. */
  put(namespace: N, key: string, value: Uint8Array): void
  /** Queues a delete. */
  delete(namespace: N, key: string): void
  /**
   * Encrypts and writes every queued operation in one atomic backend batch, in order (a later operation on the same
   * key wins). Resolves only once the batch is durable (LevelDB fsync, IndexedDB strict `complete`), or with
   * `durability: 'relaxed'` once it is applied (see Durability). The signal can stop the commit until the batch is
   * handed to the backend; after that the commit runs to the end, so a rejection always means nothing was written.
   */
  commit(options?: CommitOptions): Promise<void>
}

/** Options of ProfileBatch.commit(). */
export interface CommitOptions extends AbortOptions {
  /** 'strict' (default) or 'relaxed': see Durability. */
  durability?: Durability
  /**
   * Runs synchronously once the batch is sealed and has its place in the write order: every write committed later
   * lands with it or after it (see write-queue.ts, early lock release). Not called if the commit fails before.
   */
  onQueued?: () => void
}

/** An open, unlocked profile. Keys are strings, values bytes; every write is durable when its promise resolves. */
export interface ProfileStore<N extends string = string> {
  /** The namespaces this store was opened with. */
  readonly namespaces: readonly N[]
  /** The value under `key`, or undefined. Throws CorruptRecordError if the record does not authenticate. */
  get(namespace: N, key: string, options?: AbortOptions): Promise<Uint8Array | undefined>
  /** Stores `value` under `key`, durably. */
  put(namespace: N, key: string, value: Uint8Array, options?: AbortOptions): Promise<void>
  /** Removes `key` (no error if absent), durably. */
  delete(namespace: N, key: string, options?: AbortOptions): Promise<void>
  /** Whether a record exists under `key` (presence only: the record is not decrypted or authenticated). */
  has(namespace: N, key: string, options?: AbortOptions): Promise<boolean>
  /**
   * Every entry of `namespace` whose logical key starts with `prefix`, in no particular order (records are stored by
   * keyed hash). Decrypts each record of the namespace; a record that fails to authenticate stops the iteration with
   * CorruptRecordError.
   */
  query(namespace: N, query?: QueryOptions): AsyncIterable<Entry>
  /** A new atomic batch. */
  batch(): ProfileBatch<N>
  /**
   * Re-wraps the data key under a new passphrase (new salt, current KDF cost) in one durable header write. Records
   * are untouched: an old copy of the header still opens them with the old passphrase (see the README's threat model).
   */
  changePassphrase(current: string, next: string, options?: AbortOptions): Promise<void>
  /** Waits for running operations, then closes the backend. Later calls throw StoreClosedError. */
  close(): Promise<void>
}

type BackendWithClose = Datastore & { close?: () => Promise<void> }

type Op =
  | { type: 'put'; namespace: string; key: string; value: Uint8Array }
  | { type: 'delete'; namespace: string; key: string }

function checkKey(key: unknown): asserts key is string {
  if (typeof key !== 'string') throw new InvalidParameterError('key', 'a string')
  // A lone surrogate would be encoded as U+FFFD: two different keys would then share one record.
  if (!key.isWellFormed()) throw new InvalidParameterError('key', 'well-formed Unicode (no lone surrogates)')
  const length = utf8(key).length
  if (length > MAX_KEY_BYTES) throw new RecordTooLargeError('key (UTF-8 bytes)', length, MAX_KEY_BYTES)
}

function checkValue(value: unknown): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new InvalidParameterError('value', 'a Uint8Array')
  if (value.length > MAX_VALUE_BYTES) throw new RecordTooLargeError('value (bytes)', value.length, MAX_VALUE_BYTES)
}

/**
 * Opens (or, with `create`, creates) the profile in `backend` with `passphrase`. Shared by both entry points, which
 * pass their `platform`. Internal: callers use the entry's createProfileStore.
 */
export async function openProfileStore<N extends string>(
  platform: StorePlatform,
  backend: Datastore,
  passphrase: string,
  options: ProfileStoreOptions<N>
): Promise<ProfileStore<N>> {
  const { scrypt } = platform
  const signal = options.signal
  const random = options.random ?? defaultRandom
  const allowWeak = options.unsafeFastKdfForTests === true
  signal?.throwIfAborted()
  checkPassphrase(passphrase, 'passphrase')
  if (!Array.isArray(options.namespaces) || options.namespaces.length === 0) {
    throw new InvalidParameterError('namespaces', 'a non-empty array of namespace names')
  }
  for (const ns of options.namespaces) {
    if (typeof ns !== 'string' || !NAMESPACE_PATTERN.test(ns)) {
      throw new InvalidParameterError('namespaces', `names matching ${NAMESPACE_PATTERN}`)
    }
  }

  const dataKey = await unlockOrCreate(scrypt, backend, passphrase, {
    create: options.create === true,
    random,
    allowWeak,
    signal
  })
  let keys: ProfileKeys
  try {
    keys = await ProfileKeys.fromDataKey(platform.records, dataKey, random, platform.maxCachedRecordNames)
  } finally {
    dataKey.fill(0)
  }
  return new EncryptedProfileStore(scrypt, backend, keys, options.namespaces, random, allowWeak)
}

class EncryptedProfileStore<N extends string> implements ProfileStore<N> {
  readonly namespaces: readonly N[]
  readonly #scrypt: ScryptFunction
  readonly #backend: BackendWithClose
  readonly #keys: ProfileKeys
  readonly #allowed: ReadonlySet<string>
  readonly #random: RandomSource
  readonly #allowWeak: boolean
  readonly #running = new Set<Promise<unknown>>()
  /** Every write goes through it, in order: group commit, durability, fail-stop (write-queue.ts). */
  readonly #writes: WriteQueue
  #closed = false

  constructor(
    scrypt: ScryptFunction,
    backend: Datastore,
    keys: ProfileKeys,
    namespaces: readonly N[],
    random: RandomSource,
    allowWeak: boolean
  ) {
    this.#scrypt = scrypt
    this.#backend = backend
    this.#writes = new WriteQueue(backend)
    this.#keys = keys
    this.namespaces = Object.freeze([...namespaces])
    this.#allowed = new Set(namespaces)
    this.#random = random
    this.#allowWeak = allowWeak
  }

  async get(namespace: N, key: string, options: AbortOptions = {}): Promise<Uint8Array | undefined> {
    this.#check(namespace, key)
    return this.#track(async () => {
      const storageKey = await this.#keys.storageKey(namespace, key)
      const record = await getOrUndefined(this.#backend, new Key(storageKey), options)
      if (record === undefined) return undefined
      return (await this.#keys.open(namespace, storageKey, record)).value
    })
  }

  async put(namespace: N, key: string, value: Uint8Array, options: AbortOptions = {}): Promise<void> {
    this.#check(namespace, key)
    checkValue(value)
    return this.#track(async () => {
      const storageKey = await this.#keys.storageKey(namespace, key)
      const record = await this.#keys.seal(storageKey, key, value)
      options.signal?.throwIfAborted()
      // No signal past this point: an abort mid-write could not undo the write, only misreport it.
      await this.#writes.write([{ key: new Key(storageKey), record }], 'strict')
    })
  }

  async delete(namespace: N, key: string, options: AbortOptions = {}): Promise<void> {
    this.#check(namespace, key)
    return this.#track(async () => {
      const storageKey = await this.#keys.storageKey(namespace, key)
      options.signal?.throwIfAborted()
      await this.#writes.write([{ key: new Key(storageKey) }], 'strict')
    })
  }

  async has(namespace: N, key: string, options: AbortOptions = {}): Promise<boolean> {
    this.#check(namespace, key)
    return this.#track(async () => {
      const storageKey = await this.#keys.storageKey(namespace, key)
      return this.#backend.has(new Key(storageKey), options)
    })
  }

  query(namespace: N, query: QueryOptions = {}): AsyncIterable<Entry> {
    this.#checkOpen()
    this.#checkNamespace(namespace)
    const { prefix = '', limit, signal } = query
    if (typeof prefix !== 'string') throw new InvalidParameterError('prefix', 'a string')
    if (limit !== undefined && !(Number.isSafeInteger(limit) && limit >= 0)) {
      throw new InvalidParameterError('limit', 'a non-negative integer')
    }
    const backend = this.#backend
    const keys = this.#keys
    const checkOpen = () => this.#checkOpen()
    return {
      async *[Symbol.asyncIterator]() {
        checkOpen()
        if (limit === 0) return
        let count = 0
        for await (const pair of backend.query({ prefix: `/${namespace}/` }, { signal })) {
          checkOpen()
          // remember = false: one scan of a large namespace must not push the keys in use out of the name cache.
          const entry = await keys.open(namespace, pair.key.toString(), pair.value, false)
          if (!entry.key.startsWith(prefix)) continue
          yield entry
          count++
          if (limit !== undefined && count >= limit) return
        }
      }
    }
  }

  batch(): ProfileBatch<N> {
    this.#checkOpen()
    let ops: Op[] | undefined = []
    let bytes = 0
    const usable = (): Op[] => {
      if (ops === undefined) throw new StoreClosedError('batch (already committed)')
      this.#checkOpen()
      if (ops.length >= MAX_BATCH_OPERATIONS) {
        throw new RecordTooLargeError('batch (operations)', ops.length + 1, MAX_BATCH_OPERATIONS)
      }
      return ops
    }
    return {
      put: (namespace, key, value) => {
        const list = usable()
        this.#check(namespace, key)
        checkValue(value)
        if (bytes + value.length > MAX_BATCH_BYTES) {
          throw new RecordTooLargeError('batch (value bytes)', bytes + value.length, MAX_BATCH_BYTES)
        }
        bytes += value.length
        list.push({ type: 'put', namespace, key, value: value.slice() })
      },
      delete: (namespace, key) => {
        const list = usable()
        this.#check(namespace, key)
        list.push({ type: 'delete', namespace, key })
      },
      commit: (options: CommitOptions = {}) => {
        if (ops === undefined) return Promise.reject(new StoreClosedError('batch (already committed)'))
        const pending = ops
        ops = undefined
        return this.#track(() => this.#commit(pending, options))
      }
    }
  }

  async #commit(ops: Op[], options: CommitOptions): Promise<void> {
    options.signal?.throwIfAborted()
    const { durability = 'strict' } = options
    if (durability !== 'strict' && durability !== 'relaxed') {
      throw new InvalidParameterError('durability', "'strict' or 'relaxed'")
    }
    this.#writes.check()
    const sealed: SealedWrite[] = []
    for (const op of ops) {
      const storageKey = await this.#keys.storageKey(op.namespace, op.key)
      const record = op.type === 'put' ? await this.#keys.seal(storageKey, op.key, op.value) : undefined
      sealed.push({ key: new Key(storageKey), record })
      options.signal?.throwIfAborted()
    }
    // From here the backend owns the outcome: no signal, so resolve/reject always tells the truth.
    await this.#writes.write(sealed, durability, options.onQueued)
  }

  async changePassphrase(current: string, next: string, options: AbortOptions = {}): Promise<void> {
    this.#checkOpen()
    checkPassphrase(current, 'current')
    checkPassphrase(next, 'next')
    return this.#track(async () => {
      const { signal } = options
      const dataKey = await unlock(this.#scrypt, this.#backend, current, this.#allowWeak, { signal })
      if (dataKey === undefined) throw new CorruptRecordError('header', 'missing')
      try {
        const header = await newHeader(this.#scrypt, next, dataKey, this.#random, this.#allowWeak, { signal })
        signal?.throwIfAborted()
        await this.#backend.put(new Key(HEADER_KEY), encodeHeader(header))
      } finally {
        dataKey.fill(0)
      }
    })
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await Promise.allSettled([...this.#running])
    this.#keys.forget()
    await this.#backend.close?.()
  }

  #track<T>(run: () => Promise<T>): Promise<T> {
    try {
      this.#checkOpen()
    } catch (err) {
      return Promise.reject(err)
    }
    const promise = run()
    this.#running.add(promise)
    const forget = () => this.#running.delete(promise)
    promise.then(forget, forget)
    return promise
  }

  #checkOpen(): void {
    if (this.#closed) throw new StoreClosedError('profile store')
  }

  #checkNamespace(namespace: string): void {
    if (!this.#allowed.has(namespace)) {
      throw new InvalidParameterError('namespace', `one of the ${this.#allowed.size} namespaces given at open`)
    }
  }

  #check(namespace: string, key: string): void {
    this.#checkOpen()
    this.#checkNamespace(namespace)
    checkKey(key)
  }
}
