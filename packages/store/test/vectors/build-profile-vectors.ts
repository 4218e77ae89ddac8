/**
 * Builds test/vectors/profile-v1.json: every datastore record of a small format-1 profile, made from a fixed seed
 * with the test KDF cost, plus the logical entries it must open to. test/vectors.test.ts opens it in Node and in
 * Chromium, and re-creates it byte for byte from the seed.
 *
 *   pnpm exec node packages/store/test/vectors/build-profile-vectors.ts [--force]
 *
 * It refuses to replace an existing file without --force. Regenerate only on purpose (a new format version): the
 * point of the file is that old profiles keep opening.
 */
import type { Datastore } from 'interface-datastore'
import type { ProfileStore, ProfileStoreOptions } from '../../src/index.ts'
import { seededRandom } from '../helpers/platform.ts'

/** The JSON layout of profile-v1.json. */
export interface ProfileVectors {
  description: string
  passphrase: string
  seed: string
  namespaces: string[]
  /** Logical content, in the order it was written (one put each, then one batch). */
  entries: Array<{ namespace: string; key: string; value: string }>
  /** Every datastore record, hex values, sorted by key. */
  datastore: Record<string, string>
}

export const VECTOR_PASSPHRASE = 'correct horse battery staple'
export const VECTOR_SEED = 'parley/store/profile-v1'
export const VECTOR_NAMESPACES = ['identity', 'contacts', 'history']
export const VECTOR_ENTRIES: ProfileVectors['entries'] = [
  { namespace: 'identity', key: 'me', value: 'identity key material' },
  { namespace: 'contacts', key: 'contact/alice', value: 'Alice, verified' },
  { namespace: 'history', key: 'chat/alice/00001', value: 'hi Alice' },
  { namespace: 'history', key: 'chat/alice/00002', value: '' },
  { namespace: 'history', key: 'zoë/🔑', value: 'non-ASCII key' }
]

type Create = <N extends string>(
  backend: Datastore,
  passphrase: string,
  options: ProfileStoreOptions<N>
) => Promise<ProfileStore<N>>

/** Writes the vector profile into `backend` (empty) with the given entry's createProfileStore. */
export async function buildVectorProfile(createProfileStore: Create, backend: Datastore): Promise<void> {
  const store = await createProfileStore(backend, VECTOR_PASSPHRASE, {
    namespaces: VECTOR_NAMESPACES,
    create: true,
    unsafeFastKdfForTests: true,
    random: seededRandom(VECTOR_SEED)
  })
  const [first, ...rest] = VECTOR_ENTRIES
  await store.put(first!.namespace, first!.key, new TextEncoder().encode(first!.value))
  const batch = store.batch()
  for (const e of rest) batch.put(e.namespace, e.key, new TextEncoder().encode(e.value))
  await batch.commit()
  await store.close()
}

/** Hex of every record in a datastore, sorted by key. */
export async function hexDump(backend: Datastore): Promise<Record<string, string>> {
  const pairs: Array<[string, string]> = []
  for await (const { key, value } of backend.query({})) {
    pairs.push([key.toString(), Array.from(value, (b) => b.toString(16).padStart(2, '0')).join('')])
  }
  return Object.fromEntries(pairs.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
}

async function main(): Promise<void> {
  // Imported here, not at the top: vectors.test.ts loads this module in Chromium too.
  const { existsSync } = await import('node:fs')
  const { writeFile } = await import('node:fs/promises')
  const out = new URL('./profile-v1.json', import.meta.url)
  if (existsSync(out) && !process.argv.includes('--force')) {
    console.error(`${out.pathname} exists; pass --force to replace it (only for a new format version)`)
    process.exit(1)
  }
  const { createProfileStore } = await import('../../src/index.ts')
  const { AtomicMemoryDatastore } = await import('../../src/testing.ts')
  const backend = new AtomicMemoryDatastore()
  await buildVectorProfile(createProfileStore, backend)
  const vectors: ProfileVectors = {
    description:
      'A @parley/store format-1 profile (scrypt N=2^10 test cost) made from a fixed seed by build-profile-vectors.ts',
    passphrase: VECTOR_PASSPHRASE,
    seed: VECTOR_SEED,
    namespaces: VECTOR_NAMESPACES,
    entries: VECTOR_ENTRIES,
    datastore: await hexDump(backend)
  }
  await writeFile(out, `${JSON.stringify(vectors, null, 2)}\n`)
  console.log(`wrote ${out.pathname}: ${Object.keys(vectors.datastore).length} records`)
}

if (typeof process !== 'undefined' && import.meta.url === `file://${process.argv?.[1]}`) await main()
