/**
 * What the first screen needs before the node's code is loaded: whether this browser holds a profile. Kept apart from
 * session.ts so the start chunk carries the store but not libp2p (session.ts is imported when the user unlocks).
 */
import { openStore } from '@parley/store'
import { PROFILE_DB } from './constants.ts'

/** Whether this browser holds a profile (without opening it). */
export async function profileExists(): Promise<boolean> {
  const ds = await openStore({ kind: 'idb', name: PROFILE_DB })
  try {
    for await (const _ of ds.query({ limit: 1 })) return true
    return false
  } finally {
    await ds.close()
  }
}
