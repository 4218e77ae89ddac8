/**
 * The relay under test, in its own process (forked by relay.bench.ts with --expose-gc): createRelay() with the echo
 * baseline on, limits raised for the benchmark's load, and its mailbox on LevelDB on disk (synced writes). The store
 * is opened here, exactly as createRelay() opens its own, and passed in so its commits can be counted and timed.
 * Answers the parent over IPC: its address, its memory after a full GC, its CPU and commits over a window.
 */
import { join } from 'node:path'
import { getHeapSpaceStatistics } from 'node:v8'
import { createRelay, MAILBOX_DIR, type Relay, type RelayOptions } from '@parley/relay'
import { openStore, type StoreBackend } from '@parley/store'
import { percentile, type RelayMemory, type RelayWindow, serve, sleep, watchBusy } from './ipc.ts'

/** What the parent passes as argv[2] (JSON): the relay's options less the ones this process fills in. */
export type RelayProcessConfig = Omit<RelayOptions, 'datastore' | 'logSink' | 'relayDataLimit'>

const config = JSON.parse(process.argv[2] ?? '{}') as RelayProcessConfig
const commits = { count: 0, writes: 0, ms: 0, samples: [] as number[] }

/** `store` with every batch commit counted and timed (a commit is one synced LevelDB write). */
function countCommits(store: StoreBackend): StoreBackend {
  const batch = (): ReturnType<StoreBackend['batch']> => {
    const inner = store.batch()
    let writes = 0
    return {
      put: (key, value) => {
        writes++
        inner.put(key, value)
      },
      delete: (key) => {
        writes++
        inner.delete(key)
      },
      commit: async (options) => {
        const start = performance.now()
        await inner.commit(options)
        const ms = performance.now() - start
        commits.count++
        commits.writes += writes
        commits.ms += ms
        commits.samples.push(ms)
      }
    }
  }
  return new Proxy(store, {
    get(target, prop) {
      if (prop === 'batch') return batch
      const value = Reflect.get(target, prop, target) as unknown
      return typeof value === 'function' ? value.bind(target) : value
    }
  })
}

const store = await openStore({ kind: 'level', path: join(config.dataDir, MAILBOX_DIR) })
let relay: Relay
try {
  relay = await createRelay({
    ...config,
    datastore: countCommits(store),
    logSink: (line) => process.stderr.write(`${line}\n`)
  })
} catch (err) {
  await store.close()
  throw err
}

const gc = (globalThis as { gc?: () => void }).gc

serve({
  memory: async (): Promise<RelayMemory> => {
    // Several passes: weak references and finalizers free more on the next one.
    for (let i = 0; i < 4; i++) {
      gc?.()
      await sleep(150)
    }
    const m = process.memoryUsage()
    return {
      rss: m.rss,
      heapTotal: m.heapTotal,
      newSpace: getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')?.physical_space_size ?? 0,
      heapUsed: m.heapUsed,
      external: m.external,
      arrayBuffers: m.arrayBuffers,
      connections: relay.node.getConnections().length,
      reservations: relay.node.services.circuitRelay.reservations.size
    }
  },
  /** CPU and commits between two wall-clock instants (epoch ms); answers after `endAt`. */
  window: async ({ startAt, endAt }: { startAt: number; endAt: number }): Promise<RelayWindow> => {
    await sleep(Math.max(0, startAt - Date.now()))
    const busy = watchBusy()
    const t0 = performance.now()
    const c0 = { ...commits, samples: commits.samples.length }
    await sleep(Math.max(0, endAt - Date.now()))
    const watched = busy.end()
    const samples = commits.samples.slice(c0.samples).sort((a, b) => a - b)
    return {
      busy: watched,
      wallMs: performance.now() - t0,
      commits: commits.count - c0.count,
      writes: commits.writes - c0.writes,
      commitMs: commits.ms - c0.ms,
      commitP50: percentile(samples, 0.5),
      commitP99: percentile(samples, 0.99)
    }
  },
  stats: async () => relay.mailbox.stats(),
  stop: async () => {
    await relay.stop()
    await store.close()
    setImmediate(() => process.exit(0))
  }
})

process.send?.({ ready: true, multiaddr: relay.multiaddrs[0]!.toString(), peerId: relay.peerId.toString() })
