/**
 * The browser backend: IndexedDB through datastore-idb for reads and queries, with writes on a second connection of
 * our own. datastore-idb's batch swallows transaction errors (a failed commit resolves as if it succeeded) and uses
 * the browser's default durability; here put, delete and batch are one readwrite transaction each with
 * `durability: 'strict'` (`'relaxed'` for a batch committed so), and resolve only on the transaction's `complete` event
 * (reject on `error`/`abort`).
 * Browser entry only.
 */
import { IDBDatastore } from 'datastore-idb'
import type { Batch, Key } from 'interface-datastore'
import { StoreClosedError } from './errors.ts'
import type { AbortOptions } from './kdf.ts'
import type { BackendCommitOptions } from './write-queue.ts'

type Op = { type: 'put'; key: string; value: Uint8Array } | { type: 'del'; key: string }

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result)
    req.onerror = () => reject(req.error)
  })
}

/** IDBDatastore whose writes are atomic, strict-durability transactions that report their failures. */
export class DurableIdbDatastore extends IDBDatastore {
  readonly #name: string
  #writer: IDBDatabase | undefined

  /** `name` is both the IndexedDB database name and its object store name (datastore-idb's layout). */
  constructor(name: string) {
    super(name)
    this.#name = name
  }

  override async open(): Promise<void> {
    await super.open()
    // super.open() created the database and its object store at version 1; this connection only writes.
    const req = indexedDB.open(this.#name, 1)
    req.onupgradeneeded = () => {
      if (!req.result.objectStoreNames.contains(this.#name)) req.result.createObjectStore(this.#name)
    }
    const db = await request(req)
    // Let a deleteDatabase() elsewhere proceed instead of blocking on this connection forever.
    db.onversionchange = () => {
      db.close()
      if (this.#writer === db) this.#writer = undefined
    }
    this.#writer = db
  }

  override async close(): Promise<void> {
    this.#writer?.close()
    this.#writer = undefined
    await super.close()
  }

  override async destroy(): Promise<void> {
    await this.close()
    await super.destroy()
  }

  override async put(key: Key, value: Uint8Array, options: AbortOptions = {}): Promise<Key> {
    await this.#write([{ type: 'put', key: key.toString(), value }], options)
    return key
  }

  override async delete(key: Key, options: AbortOptions = {}): Promise<void> {
    await this.#write([{ type: 'del', key: key.toString() }], options)
  }

  override batch(): Batch {
    let ops: Op[] | undefined = []
    return {
      put: (key, value) => {
        ops?.push({ type: 'put', key: key.toString(), value })
      },
      delete: (key) => {
        ops?.push({ type: 'del', key: key.toString() })
      },
      commit: async (options: BackendCommitOptions = {}) => {
        const pending = ops ?? []
        ops = undefined
        await this.#write(pending, options)
      }
    }
  }

  /** One transaction for all `ops`, in order; resolves on `complete` (durably written), never earlier. */
  async #write(ops: Op[], options: BackendCommitOptions): Promise<void> {
    options.signal?.throwIfAborted()
    const db = this.#writer
    if (db === undefined) throw new StoreClosedError('IndexedDB datastore')
    const durability = options.durability === 'relaxed' ? 'relaxed' : 'strict'
    const tx = db.transaction(this.#name, 'readwrite', { durability })
    const done = new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve()
      tx.onerror = () => reject(tx.error)
      tx.onabort = () => reject(tx.error ?? new DOMException('transaction aborted', 'AbortError'))
    })
    try {
      const store = tx.objectStore(this.#name)
      for (const op of ops) {
        if (op.type === 'put') store.put(op.value, op.key)
        else store.delete(op.key)
      }
    } catch (err) {
      // A synchronous failure (e.g. DataCloneError): abort so no earlier op of this batch lands.
      tx.abort()
      done.catch(() => {})
      throw err
    }
    await done
  }
}

/** Opens (creating if missing) a durable IndexedDB datastore named `name`. */
export async function openIdbDatastore(name: string): Promise<DurableIdbDatastore> {
  const store = new DurableIdbDatastore(name)
  await store.open()
  return store
}
