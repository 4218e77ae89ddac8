/**
 * Where a member's groups live in its encrypted profile store (namespace `meta`): `group/<id>` (topic id, our next
 * sequence number, last self-update, sender positions; JSON), `group-state/<id>` (the MLS state, MlsGroup.encode:
 * private keys, so only ever in the encrypted store) and `group-history/<id>/<at>-<order>` (one entry each, at most
 * GROUP_HISTORY_MAX_ENTRIES per group: the oldest is deleted when a new one is written).
 */
import { type CryptoBackend, fromHex, MlsGroup, toHex } from '@parley/crypto'
import type { ProfileStore } from '@parley/store'
import type { Namespace } from '../records.ts'
import type { GroupHistoryEntry } from './types.ts'

const text = new TextEncoder()
const untext = new TextDecoder()

/** A group as saved. */
export interface SavedGroup {
  readonly group: MlsGroup
  readonly topicId: Uint8Array
  readonly nextSeq: number
  readonly lastUpdate: number
  readonly positions: ReadonlyMap<string, number>
  readonly history: GroupHistoryEntry[]
}

/** Every saved group (a group whose records do not decode is reported by id and skipped). */
export async function loadGroups(
  store: ProfileStore<Namespace>,
  backend: CryptoBackend,
  onError: (id: string, e: Error) => void
): Promise<SavedGroup[]> {
  const out: SavedGroup[] = []
  for await (const { key, value } of store.query('meta', { prefix: 'group/' })) {
    const id = key.slice('group/'.length)
    if (id.includes('/')) continue
    try {
      const r = JSON.parse(untext.decode(value)) as {
        topic: string
        nextSeq: number
        lastUpdate: number
        positions?: Record<string, number>
      }
      const stateBytes = await store.get('meta', `group-state/${id}`)
      if (stateBytes === undefined) continue
      const group = await MlsGroup.decode(backend, stateBytes)
      const history: GroupHistoryEntry[] = []
      for await (const h of store.query('meta', { prefix: `group-history/${id}/` })) {
        history.push(JSON.parse(untext.decode(h.value)) as GroupHistoryEntry)
      }
      history.sort((a, b) => a.at - b.at || a.order - b.order)
      out.push({
        group,
        topicId: fromHex(r.topic),
        nextSeq: r.nextSeq,
        lastUpdate: r.lastUpdate,
        positions: new Map(Object.entries(r.positions ?? {})),
        history
      })
    } catch (e) {
      onError(id, e as Error)
    }
  }
  return out
}

/** Saves a group's head state and bookkeeping in one batch. */
export async function saveGroup(
  store: ProfileStore<Namespace>,
  g: {
    group: MlsGroup
    topicId: Uint8Array
    nextSeq: number
    lastUpdate: number
    positions: ReadonlyMap<string, number>
  }
): Promise<void> {
  const id = toHex(g.group.groupId)
  const b = store.batch()
  b.put('meta', `group-state/${id}`, g.group.encode())
  const record = {
    v: 1,
    topic: toHex(g.topicId),
    nextSeq: g.nextSeq,
    lastUpdate: g.lastUpdate,
    positions: Object.fromEntries(g.positions)
  }
  b.put('meta', `group/${id}`, text.encode(JSON.stringify(record)))
  await b.commit()
}

function historyKey(id: string, e: GroupHistoryEntry): string {
  return `group-history/${id}/${String(e.at).padStart(15, '0')}-${e.order}`
}

/** Writes one history entry, and deletes `evicted` (the entry that fell out of the bound) in the same batch. */
export async function putHistory(
  store: ProfileStore<Namespace>,
  id: string,
  entry: GroupHistoryEntry,
  evicted: GroupHistoryEntry | undefined
): Promise<void> {
  const b = store.batch()
  b.put('meta', historyKey(id, entry), text.encode(JSON.stringify(entry)))
  if (evicted !== undefined) b.delete('meta', historyKey(id, evicted))
  await b.commit()
}

/** Deletes everything saved about a group. */
export async function deleteGroup(store: ProfileStore<Namespace>, id: string): Promise<void> {
  const b = store.batch()
  b.delete('meta', `group/${id}`)
  b.delete('meta', `group-state/${id}`)
  for await (const h of store.query('meta', { prefix: `group-history/${id}/` })) b.delete('meta', h.key)
  await b.commit()
}
