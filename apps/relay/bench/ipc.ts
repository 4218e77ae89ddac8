/**
 * Request/reply over a forked child's IPC channel, and the figures helpers the relay benchmark's processes share.
 * The parent sends `{ id, cmd, args }`; the child answers `{ id, ok, value | error }`.
 */
import type { ChildProcess } from 'node:child_process'
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks'

interface Request {
  id: number
  cmd: string
  args: unknown
}

interface Reply {
  id: number
  ok: boolean
  value?: unknown
  error?: string
}

/** A child's command handlers (each takes its own argument type). */
export type Handlers = Record<string, (args: never) => Promise<unknown>>

/** In a child: answers the parent's requests; exits when the parent goes away, so no process outlives a run. */
export function serve(handlers: Handlers): void {
  process.on('message', (message: Request) => {
    const handler = handlers[message.cmd]
    const reply = (r: Omit<Reply, 'id'>) => process.send?.({ id: message.id, ...r })
    if (handler === undefined) {
      reply({ ok: false, error: `unknown command ${message.cmd}` })
      return
    }
    handler(message.args as never).then(
      (value) => reply({ ok: true, value }),
      (err: unknown) => reply({ ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) })
    )
  })
  process.on('disconnect', () => process.exit(1))
}

/** In the parent: one child's request/reply channel. */
export class Rpc {
  readonly child: ChildProcess
  readonly name: string
  #next = 0
  readonly #waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>()

  constructor(child: ChildProcess, name: string) {
    this.child = child
    this.name = name
    child.on('message', (message: Reply) => {
      const w = this.#waiting.get(message.id)
      if (w === undefined) return
      this.#waiting.delete(message.id)
      if (message.ok) w.resolve(message.value)
      else w.reject(new Error(`${name}: ${message.error}`))
    })
    child.on('exit', (code, signal) => {
      for (const w of this.#waiting.values()) w.reject(new Error(`${name} exited (${code ?? signal})`))
      this.#waiting.clear()
    })
  }

  call<T>(cmd: string, args: unknown = {}, timeoutMs = 120_000): Promise<T> {
    const id = this.#next++
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(id)
        reject(new Error(`${this.name}: ${cmd} timed out after ${timeoutMs} ms`))
      }, timeoutMs)
      this.#waiting.set(id, {
        resolve: (v) => {
          clearTimeout(timer)
          resolve(v as T)
        },
        reject: (e) => {
          clearTimeout(timer)
          reject(e)
        }
      })
      this.child.send({ id, cmd, args } satisfies Request)
    })
  }

  /** Asks the child to stop, then kills it if it has not exited within `graceMs`. */
  async stop(graceMs: number): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()))
    this.call('stop', {}, graceMs).catch(() => {})
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs)
    await exited
    clearTimeout(timer)
  }
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** How busy a process's main thread was over a window: event-loop delay and time in GC pauses. */
export interface Busy {
  cpuMs: number
  loopDelayP99Ms: number
  loopDelayMaxMs: number
  gcMs: number
}

/** Starts watching this process's CPU, event-loop delay and GC; `end()` returns what happened since. */
export function watchBusy(): { end(): Busy } {
  const cpu = process.cpuUsage()
  const delay = monitorEventLoopDelay({ resolution: 5 })
  delay.enable()
  let gcMs = 0
  const gc = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) gcMs += entry.duration
  })
  gc.observe({ entryTypes: ['gc'] })
  return {
    end: () => {
      const used = process.cpuUsage(cpu)
      delay.disable()
      gc.disconnect()
      return {
        cpuMs: (used.user + used.system) / 1000,
        loopDelayP99Ms: delay.percentile(99) / 1e6,
        loopDelayMaxMs: delay.max / 1e6,
        gcMs
      }
    }
  }
}

/** What a worker measured in one timed run of one operation (echo or deposit). */
export interface RunResult {
  /** Operations that completed inside the measured window. */
  count: number
  /** Their latencies, ms. */
  latencies: number[]
  /** Failures by error code or name (measured window only). */
  errors: Record<string, number>
  /** The worker's own main thread over the measured window. */
  busy: Busy
}

/** What a worker measured while its mailbox owners drained their mailboxes. */
export interface DrainResult {
  fetchMs: number[]
  authMs: number[]
  ackMs: number[]
  items: number
  pages: number
  errors: Record<string, number>
}

/** The relay's CPU and mailbox-store commits over a window. */
export interface RelayWindow {
  busy: Busy
  wallMs: number
  commits: number
  /** Puts and deletes in those commits. */
  writes: number
  commitMs: number
  commitP50: number
  commitP99: number
}

/** The relay process's answer to `memory`. */
export interface RelayMemory {
  rss: number
  /** V8's committed heap, and the young generation's resident part. */
  heapTotal: number
  newSpace: number
  heapUsed: number
  external: number
  arrayBuffers: number
  connections: number
  reservations: number
}
