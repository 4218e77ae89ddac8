/**
 * Early lock release (protocol.ts commitRecord): with a store that reports when a commit is queued in its write order,
 * the next operation on a session starts then, while the earlier one still waits for its sync; yet no operation
 * returns before its own commit is durable, and a commit that fails after it was queued leaves nothing built on it.
 */
import { describe, expect, it } from 'vitest'
import {
  createSessionManager,
  type ProtocolCommitOptions,
  type ProtocolTransaction,
  type SessionManager
} from '../src/api.ts'
import { MemoryProtocolStore } from '../src/testing.ts'
import { backendsUnderTest } from './helpers/backends.ts'
import { connectedPair, deliver, messageId, type Party, str, utf8 } from './helpers/parties.ts'

const backends = await backendsUnderTest()

/**
 * A store with an ordered write queue whose syncs the test releases: a commit is queued (and visible to a restart)
 * at once, durable when released. After a failed sync it refuses every later commit, as the profile store does.
 */
class HeldSyncStore extends MemoryProtocolStore {
  readonly held: Array<{ resolve: () => void; reject: (e: Error) => void }> = []
  failed = false

  override async commit(tx: ProtocolTransaction, options: ProtocolCommitOptions = {}): Promise<void> {
    if (this.failed) throw new Error('write failed earlier')
    const durable = new Promise<void>((resolve, reject) => this.held.push({ resolve, reject }))
    options.onQueued?.()
    await durable
    await super.commit(tx)
  }

  release(): void {
    for (const w of this.held.splice(0)) w.resolve()
  }

  fail(): void {
    this.failed = true
    for (const w of this.held.splice(0)) w.reject(new Error('disk full'))
  }
}

/** A manager for `p`'s account over a HeldSyncStore holding what `p` has persisted (as after a restart). */
function onHeldStore(p: Party): { manager: SessionManager; store: HeldSyncStore } {
  const store = new HeldSyncStore()
  for (const [k, v] of p.store.records) store.records.set(k, v.slice())
  if (p.store.account !== undefined) store.account = p.store.account.slice()
  return {
    store,
    manager: createSessionManager({ backend: p.backend, account: p.manager.account, store, now: p.clock.now })
  }
}

const settled = async (p: Promise<unknown>) => {
  let done = false
  p.then(
    () => (done = true),
    () => (done = true)
  )
  await new Promise((r) => setTimeout(r, 5))
  return done
}

describe.each(backends.map((b) => [b.name, b] as const))('early lock release on %s', (_name, backend) => {
  it('three encrypts on one session are all queued before the first sync, none returns before the syncs, and all decrypt in order', async () => {
    const [a, b] = await connectedPair(backend)
    const held = onHeldStore(a)
    const ids = [messageId(), messageId(), messageId()]
    const sends = ids.map((id, i) => held.manager.encrypt(b.manager.address, utf8(`m${i}`), { messageId: id }))
    // Each took the session lock, queued its commit and let the next one in: three queued, none durable.
    for (let i = 0; i < 20 && held.store.held.length < 3; i++) await new Promise((r) => setTimeout(r, 1))
    expect(held.store.held.length).toBe(3)
    expect(await settled(Promise.race(sends))).toBe(false)
    held.store.release()
    const sent = await Promise.all(sends)
    for (let i = 0; i < 3; i++) {
      const r = await b.manager.decrypt(sent[i]!.ciphertext, { messageId: ids[i]!, address: a.manager.address })
      expect(str(r.plaintext)).toBe(`m${i}`)
    }
  })

  it('decrypts of one session share the queue the same way; a sync that fails rejects them and every later operation, and nothing built on it is stored', async () => {
    const [a, b] = await connectedPair(backend)
    const wires = []
    for (let i = 0; i < 3; i++) {
      const id = messageId()
      const { ciphertext } = await a.manager.encrypt(b.manager.address, utf8(`n${i}`), { messageId: id })
      wires.push({ id, ciphertext })
    }
    const held = onHeldStore(b)
    const before = new Map([...held.store.records].map(([k, v]) => [k, v.slice()]))
    const receives = wires.map((w) =>
      held.manager.decrypt(w.ciphertext, { messageId: w.id, address: a.manager.address })
    )
    for (let i = 0; i < 20 && held.store.held.length < 3; i++) await new Promise((r) => setTimeout(r, 1))
    expect(held.store.held.length).toBe(3)
    held.store.fail()
    for (const r of receives) await expect(r).rejects.toThrow()
    expect(held.store.records).toEqual(before)
    // The manager dropped the state it had cached ahead of the disk; the store refuses writes until reopened.
    await expect(
      held.manager.encrypt(a.manager.address, utf8('after the failure'), { messageId: messageId() })
    ).rejects.toThrow('write failed earlier')
    // Reopened over what is on disk, the same messages decrypt: nothing was lost.
    const reopened = new MemoryProtocolStore()
    for (const [k, v] of before) reopened.records.set(k, v)
    reopened.account = held.store.account
    const again = createSessionManager({ backend, account: b.manager.account, store: reopened, now: b.clock.now })
    for (let i = 0; i < 3; i++) {
      const r = await again.decrypt(wires[i]!.ciphertext, { messageId: wires[i]!.id, address: a.manager.address })
      expect(str(r.plaintext)).toBe(`n${i}`)
    }
    expect(await deliver(a, { ...(await sendFrom(again, a, 'reply')), from: b })).toBe('reply')
  })
})

async function sendFrom(manager: SessionManager, to: Party, text: string) {
  const id = messageId()
  const { ciphertext } = await manager.encrypt(to.manager.address, utf8(text), { messageId: id })
  return { ciphertext, messageId: id, text }
}
