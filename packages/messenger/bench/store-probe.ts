/**
 * What one profile-store read and one synced batch commit cost on their own, on the same kind of store the
 * messengers use, so the per-message read and write counts can be turned into time.
 */
import { join } from 'node:path'
import { createProfileStore, openStore, type StoreLocation } from '@parley/store'
import { NAMESPACES } from '../src/index.ts'
import { percentile } from './measure.ts'
import type { StoreKind } from './parley-pair.ts'

export interface StoreProbe {
  /** get() of a ~300-byte record. */
  readP50: number
  /** A batch of 3 puts (~300 bytes each), committed (fsynced on LevelDB). */
  commitP50: number
}

export async function probeStore(kind: StoreKind, dir: string, seconds: number): Promise<StoreProbe> {
  const location: StoreLocation = kind === 'level' ? { kind: 'level', path: join(dir, 'probe') } : { kind: 'memory' }
  const store = await createProfileStore(await openStore(location), 'bench passphrase', {
    namespaces: NAMESPACES,
    create: true,
    unsafeFastKdfForTests: true
  })
  const value = new Uint8Array(300).fill(1)
  const time = async (op: (i: number) => Promise<unknown>) => {
    const samples: number[] = []
    const end = performance.now() + seconds * 1000
    for (let i = 0; performance.now() < end; i++) {
      const t0 = performance.now()
      await op(i)
      samples.push(performance.now() - t0)
    }
    return percentile(
      samples.sort((a, b) => a - b),
      0.5
    )
  }
  try {
    const commitP50 = await time(async (i) => {
      const b = store.batch()
      for (const ns of ['history', 'seen', 'outbox'] as const) b.put(ns, `k${i % 100}`, value)
      await b.commit()
    })
    const readP50 = await time((i) => store.get('history', `k${i % 100}`))
    return { readP50, commitP50 }
  } finally {
    await store.close()
  }
}
