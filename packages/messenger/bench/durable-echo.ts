/**
 * The durable baseline: the raw shared-stream echo, except that each side first writes the frame to its own fsynced
 * LevelDB: B before it echoes, A before it counts the echo. The databases are opened by @parley/store's `openStore({
 * kind: 'level' })`, the very backend under Parley's profiles (LevelDB through datastore-level, every write
 * `sync: true`), in the same directory as the profiles. The frames are written as they are, without the profile's
 * encryption at rest: this is the floor any durable messenger on this stack pays, not a second Parley.
 *
 * Each side batches its fsyncs the way a durable messenger may (group commit): frames that arrive while a commit is
 * in flight wait and go together into the next one. With one frame in flight that is one commit per frame.
 */
import { createRequire } from 'node:module'
import { join } from 'node:path'
import type { Libp2p, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { openStore, type StoreBackend } from '@parley/store'
import type { Operation } from './measure.ts'
import { FRAME_BYTES } from './raw-echo.ts'

export const DURABLE_ECHO = '/bench/durable-echo/1.0.0'
/** Stream limits as in the raw echo: only one stream is open at a time here. */
const STREAM_LIMIT = 1024

type DatastoreKey = Parameters<StoreBackend['put']>[0]
/**
 * interface-datastore's Key, loaded from where @parley/store resolves it (it is not a dependency of the messenger,
 * and the package's main entry points at sources it does not ship, so the `key` subpath).
 */
const { Key } = createRequire(import.meta.resolve('@parley/store'))('interface-datastore/key') as {
  Key: new (s: string) => DatastoreKey
}

/** Commits and frames a log wrote since its last reset. */
export interface CommitCount {
  commits: number
  frames: number
}

/** An append-only log of frames in one fsynced LevelDB, with group commit. */
class GroupCommitLog {
  readonly count: CommitCount = { commits: 0, frames: 0 }
  private pending: Uint8Array[] = []
  private flushing: Promise<void> | undefined
  private seq = 0
  private readonly store: StoreBackend
  private readonly committed: (frames: Uint8Array[]) => void
  private readonly failed: (err: unknown) => void

  /**
   * @param committed - called with each group once its commit resolved (the frames are on disk), in append order
   * @param failed - called if a commit fails; the frames of that group are dropped
   */
  constructor(store: StoreBackend, committed: (frames: Uint8Array[]) => void, failed: (err: unknown) => void) {
    this.store = store
    this.committed = committed
    this.failed = failed
  }

  append(frame: Uint8Array): void {
    this.pending.push(frame)
    this.flushing ??= this.flush().finally(() => {
      this.flushing = undefined
    })
  }

  /** Resolves when every frame appended so far is committed (or failed). */
  async drained(): Promise<void> {
    while (this.flushing !== undefined) await this.flushing
  }

  private async flush(): Promise<void> {
    while (this.pending.length > 0) {
      const group = this.pending
      this.pending = []
      const batch = this.store.batch()
      for (const frame of group) batch.put(new Key(`/echo/${(this.seq++).toString().padStart(12, '0')}`), frame)
      try {
        await batch.commit()
      } catch (err) {
        this.failed(err)
        continue
      }
      this.count.commits++
      this.count.frames += group.length
      this.committed(group)
    }
  }
}

export interface DurableEcho {
  /** One long-lived stream that any number of callers share (replies come back in order). */
  openSharedStream(): Promise<{ echo: Operation; close(): Promise<void> }>
  /** Commits and frames of A and B together since the last reset. */
  count(): CommitCount
  resetCount(): void
  /** Removes the protocol from B and closes both databases. */
  close(): Promise<void>
}

/** Registers the durable echo on `to` (with its database in `dir`) and returns what `from` runs against it. */
export async function attachDurableEcho(from: Libp2p, to: Libp2p, dir: string): Promise<DurableEcho> {
  const stores = {
    a: await openStore({ kind: 'level', path: join(dir, 'durable-echo-a') }),
    b: await openStore({ kind: 'level', path: join(dir, 'durable-echo-b') })
  }
  const counts: CommitCount[] = []
  await to.handle(DURABLE_ECHO, (stream) => durableEchoUntilClosed(stream, stores.b, counts), {
    maxInboundStreams: STREAM_LIMIT,
    maxOutboundStreams: STREAM_LIMIT
  })
  const frame = new Uint8Array(FRAME_BYTES).fill(7)
  return {
    openSharedStream: async () => {
      const stream = await from.dialProtocol(to.peerId, DURABLE_ECHO, { maxOutboundStreams: STREAM_LIMIT })
      const lp = lpStream(stream)
      // Echoes come back in the order the frames went out and groups commit in order, so a FIFO of waiters matches
      // each durable echo to its frame.
      const waiting: Array<() => void> = []
      const log = new GroupCommitLog(
        stores.a,
        (frames) => {
          for (let i = 0; i < frames.length; i++) waiting.shift()?.()
        },
        (err) => stream.abort(err as Error)
      )
      counts.push(log.count)
      const reader = (async () => {
        for (;;) log.append((await lp.read()).subarray())
      })().catch(() => {})
      return {
        echo: async () => {
          const t0 = performance.now()
          const echoed = new Promise<void>((resolve) => waiting.push(resolve))
          await lp.write(frame)
          await echoed
          return { latencies: [performance.now() - t0] }
        },
        close: async () => {
          await stream.close()
          await reader
          await log.drained()
        }
      }
    },
    count: () => ({
      commits: counts.reduce((n, c) => n + c.commits, 0),
      frames: counts.reduce((n, c) => n + c.frames, 0)
    }),
    resetCount: () => {
      for (const c of counts) {
        c.commits = 0
        c.frames = 0
      }
    },
    close: async () => {
      await to.unhandle(DURABLE_ECHO)
      await stores.a.close()
      await stores.b.close()
    }
  }
}

/** Logs every frame and echoes it once committed, until the remote closes its side; then drains and closes ours. */
async function durableEchoUntilClosed(stream: Stream, store: StoreBackend, counts: CommitCount[]): Promise<void> {
  const lp = lpStream(stream)
  const log = new GroupCommitLog(
    store,
    // One send for the whole group: the echo's own freedom to batch, like its fsyncs.
    (frames) => void lp.writeV(frames).catch(() => {}),
    (err) => stream.abort(err as Error)
  )
  counts.push(log.count)
  try {
    for (;;) log.append((await lp.read()).subarray())
  } catch {
    // The remote closed its writable end: the read hit EOF.
  }
  await log.drained()
  await stream.close().catch(() => {})
}
