/**
 * Per-record cost of the encrypted profile store: get, put, batch commit and query per second on the memory
 * backend and LevelDB (a temp dir, fsync on every write), for each record-crypto configuration in one process:
 *
 *   webcrypto          the path before node:crypto and the name cache (3 WebCrypto calls per get): the baseline
 *   webcrypto+cache    WebCrypto with the record-name cache: what the browser entry runs
 *   node               node:crypto, no name cache: the primitive's share of the gain
 *   node+cache         node:crypto with the name cache: what the Node entry (createProfileStore) runs
 *
 *   pnpm exec node packages/store/bench/store.bench.ts
 *
 * Options (environment): BENCH_SECONDS per measurement (default 0.5), BENCH_ROUNDS (default 4, the median is shown),
 * BENCH_IMPL (comma-separated subset of the configurations above; the first one listed is the ratio base).
 * Keys cycle through 1000 (fit the 4096-name cache) or 8192 (each name evicted before its next use). The query
 * reads a separate profile of 200 records, reopened after writing so its name cache starts empty (as after a
 * restart; scans do not fill the cache).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Datastore } from 'interface-datastore'
import { createProfileStore, openStore, type ProfileStore } from '../src/index.ts'
import { nodeScrypt } from '../src/kdf-node.ts'
import { openProfileStore } from '../src/profile-store.ts'
import type { RecordCrypto } from '../src/record-crypto.ts'
import { nodeRecordCrypto } from '../src/record-crypto-node.ts'
import { webRecordCrypto } from '../src/record-crypto-web.ts'
import { AtomicMemoryDatastore } from '../src/testing.ts'

const seconds = Number(process.env.BENCH_SECONDS ?? 0.5)
const rounds = Number(process.env.BENCH_ROUNDS ?? 4)
const PASS = 'bench passphrase'
const NS = ['history', 'scan'] as const
type Ns = (typeof NS)[number]
const HOT_KEYS = 1000
const COLD_KEYS = 8192
const BATCH_PUTS = 8
const SCAN_RECORDS = 200
const VALUE = new Uint8Array(256).fill(7)

type Open = (backend: Datastore) => Promise<ProfileStore<Ns>>
interface Config {
  readonly label: string
  readonly open: Open
}

// The test KDF cost: opening is not what is measured here.
const OPTIONS = { namespaces: NS, create: true, unsafeFastKdfForTests: true }
const withRecords = (records: RecordCrypto, maxCachedRecordNames?: number): Open => {
  return (backend) => openProfileStore({ scrypt: nodeScrypt, records, maxCachedRecordNames }, backend, PASS, OPTIONS)
}
const allConfigs: Config[] = [
  { label: 'webcrypto', open: withRecords(webRecordCrypto, 0) },
  { label: 'webcrypto+cache', open: withRecords(webRecordCrypto) },
  { label: 'node', open: withRecords(nodeRecordCrypto, 0) },
  { label: 'node+cache', open: (backend) => createProfileStore(backend, PASS, OPTIONS) }
]
const wanted = process.env.BENCH_IMPL?.split(',').map((s) => s.trim())
const configs = wanted ? wanted.map((w) => allConfigs.find((c) => c.label === w)!).filter(Boolean) : allConfigs
if (configs.length === 0) throw new Error(`BENCH_IMPL: choose from ${allConfigs.map((c) => c.label).join(', ')}`)

const key = (i: number) => `chat/peer-${i % 17}/${String(i).padStart(6, '0')}`

/** Runs `op` back to back (each awaited, as the messenger does) for `seconds`; operations per second. */
async function rate(op: (i: number) => Promise<unknown>, warmUp = 20): Promise<number> {
  for (let i = 0; i < warmUp; i++) await op(i)
  let count = 0
  const start = performance.now()
  const end = start + seconds * 1000
  while (performance.now() < end) await op(count++)
  return count / ((performance.now() - start) / 1000)
}

async function fill(store: ProfileStore<Ns>, count: number): Promise<void> {
  for (let i = 0; i < count; i += 1000) {
    const batch = store.batch()
    for (let j = i; j < Math.min(count, i + 1000); j++) batch.put('history', key(j), VALUE)
    await batch.commit()
  }
}

type Row = Record<string, number>
const workloads = [
  'get (1000 keys)',
  `get (${COLD_KEYS} keys)`,
  'put',
  `batch commit (${BATCH_PUTS} puts)`,
  'query (records/s)'
] as const

async function measure(store: ProfileStore<Ns>, scanStore: ProfileStore<Ns>): Promise<Row> {
  let seq = 0
  return {
    [workloads[0]]: await rate((i) => store.get('history', key(i % HOT_KEYS))),
    [workloads[1]]: await rate((i) => store.get('history', key(i % COLD_KEYS))),
    [workloads[2]]: await rate((i) => store.put('history', key(i % HOT_KEYS), VALUE)),
    [workloads[3]]: await rate(async () => {
      const batch = store.batch()
      for (let j = 0; j < BATCH_PUTS; j++) batch.put('history', key(seq++ % HOT_KEYS), VALUE)
      await batch.commit()
    }),
    [workloads[4]]:
      SCAN_RECORDS *
      (await rate(async () => {
        for await (const _ of scanStore.query('scan'));
      }, 2))
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

console.log(
  `@parley/store per-record cost — Node ${process.version}, ${seconds}s × ${rounds} rounds (median), 256-byte values`
)
const dir = await mkdtemp(join(tmpdir(), 'parley-store-bench-'))
const results: Record<string, Record<string, Row>> = {}
try {
  for (const backendKind of ['memory', 'level'] as const) {
    // One prepared store per configuration, measured in interleaved rounds so machine load hits them alike.
    const stores = new Map<string, [ProfileStore<Ns>, ProfileStore<Ns>]>()
    const backend = (name: string) =>
      backendKind === 'memory' ? new AtomicMemoryDatastore() : openStore({ kind: 'level', path: join(dir, name) })
    for (const config of configs) {
      const store = await config.open(await backend(config.label))
      await fill(store, COLD_KEYS)
      const scanBackend = await backend(`${config.label}-scan`)
      const scanWriter = await config.open(scanBackend)
      const batch = scanWriter.batch()
      for (let j = 0; j < SCAN_RECORDS; j++) batch.put('scan', key(j), VALUE)
      await batch.commit()
      await scanWriter.close()
      // close() closes the backend too: the memory one keeps its contents, LevelDB is opened again.
      const scanStore = await config.open(
        backendKind === 'memory' ? scanBackend : await backend(`${config.label}-scan`)
      )
      let n = 0
      for await (const _ of scanStore.query('scan')) n++
      if (n !== SCAN_RECORDS) throw new Error(`scan profile holds ${n} records, not ${SCAN_RECORDS}`)
      stores.set(config.label, [store, scanStore])
    }
    const samples = new Map<string, Row[]>()
    for (let r = 0; r < rounds; r++) {
      // Rotated each round: no configuration always runs right after the same one or at the same point in a round.
      for (const config of [...configs.slice(r % configs.length), ...configs.slice(0, r % configs.length)]) {
        const list = samples.get(config.label) ?? []
        list.push(await measure(...stores.get(config.label)!))
        samples.set(config.label, list)
      }
    }
    for (const pair of stores.values()) for (const store of pair) await store.close()
    const byConfig: Record<string, Row> = {}
    for (const [label, rows] of samples) {
      byConfig[label] = Object.fromEntries(workloads.map((w) => [w, median(rows.map((row) => row[w]!))]))
    }
    results[backendKind] = byConfig
    console.log(`\n${backendKind}${backendKind === 'level' ? ' (fsync per write)' : ''}, ops/s`)
    console.log(`${'workload'.padEnd(26)}${configs.map((c) => c.label.padStart(22)).join('')}`)
    for (const w of workloads) {
      const cells = configs.map((c) => byConfig[c.label]![w]!)
      const base = cells[0]!
      console.log(
        `${w.padEnd(26)}${cells
          .map((v, i) => `${v.toFixed(0)}${i === 0 ? '' : ` (${(v / base).toFixed(1)}×)`}`.padStart(22))
          .join('')}`
      )
    }
  }
} finally {
  await rm(dir, { recursive: true, force: true })
}
console.log(JSON.stringify(results))
