/**
 * Driving the real `parley` and `parley-relay` commands as a user does, from a plain shell (system PATH only, so the
 * pinned Node is what the bin scripts pick): one-shot commands, `parley run --json` nodes whose JSON-lines events are
 * collected as they come, and the relay daemon with its metrics. Every process and directory a `CliKit` starts is
 * killed and deleted by `cleanup()`.
 */

import { type ChildProcessWithoutNullStreams, execFile, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { until } from '@parley/test-kit'

/** The one shared wait (`@parley/test-kit`): until(check, ms, what). */
export { until }

export const PARLEY = resolve(import.meta.dirname, '../node_modules/.bin/parley')
export const PARLEY_RELAY = resolve(import.meta.dirname, '../node_modules/.bin/parley-relay')

export type CliEvent = Record<string, unknown>

export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
}

/** One `parley run --json` process. */
export interface JsonNode {
  readonly dir: string
  /** Its `ready` event (identity, fingerprint, invite, addresses, peerId). */
  readonly ready: CliEvent
  readonly child: ChildProcessWithoutNullStreams
  /** Every event line it printed, parsed, in order. */
  readonly events: CliEvent[]
  /** Resolves with the exit code or signal once the process is gone. */
  readonly exited: Promise<number | string | null>
  /** What it wrote on stderr so far (messenger logs with DEBUG=parley:*). */
  stderr(): string
  /** Writes one command line on its stdin. */
  send(cmd: object): void
  /** The first event matching `pred` (already printed or to come); throws naming `what` after `ms`. */
  next(pred: (e: CliEvent) => boolean, what: string, ms?: number): Promise<CliEvent>
  /** Sends `cmd` with a fresh id and returns the `result` (throws on an `error` event). */
  ask(cmd: object, ms?: number): Promise<unknown>
}

export class CliKit {
  readonly env: Record<string, string>
  private readonly children: ChildProcessWithoutNullStreams[] = []
  private readonly dirs: string[] = []
  private asks = 0

  constructor(passphrase: string) {
    this.env = {
      PATH: '/usr/local/bin:/usr/bin:/bin',
      HOME: tmpdir(),
      PARLEY_PASSPHRASE: passphrase,
      PARLEY_UNSAFE_FAST_KDF: '1',
      // Messenger logs on the nodes' stderr when the test runs with PARLEY_TEST_DEBUG (e.g. 'parley:*').
      ...(process.env.PARLEY_TEST_DEBUG !== undefined && { DEBUG: process.env.PARLEY_TEST_DEBUG })
    }
  }

  /** Runs `parley` to completion; never throws on a non-zero exit. */
  parley(args: string[], timeout = 90_000): Promise<CliResult> {
    return new Promise((done) => {
      execFile(PARLEY, args, { env: this.env, timeout }, (err, stdout, stderr) => {
        done({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr })
      })
    })
  }

  /** Runs `parley` and returns its stdout; throws with its stderr on failure. */
  async ok(args: string[]): Promise<string> {
    const r = await this.parley(args)
    if (r.code !== 0) throw new Error(`parley ${args.join(' ')} exited ${r.code}: ${r.stderr}`)
    return r.stdout
  }

  async tempDir(name: string): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), `parley-${name}-`))
    this.dirs.push(dir)
    return dir
  }

  /** A new profile (`parley init`). */
  async profile(name: string): Promise<string> {
    const dir = await this.tempDir(name)
    await this.ok(['init', '--data', dir])
    return dir
  }

  /** `parley run --json` on the profile `dir`; resolves once it printed `ready`. */
  async run(dir: string, args: string[], name = 'node'): Promise<JsonNode> {
    const child = spawn(PARLEY, ['run', '--json', '--data', dir, ...args], { env: this.env })
    this.children.push(child)
    const events: CliEvent[] = []
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString()
    })
    const exited = new Promise<number | string | null>((r) => child.once('exit', (code, signal) => r(code ?? signal)))
    createInterface({ input: child.stdout }).on('line', (line) => {
      try {
        events.push(JSON.parse(line) as CliEvent)
      } catch {
        events.push({ event: 'unparsable', line })
      }
    })
    // Writing to a killed node's stdin is expected in crash tests.
    child.stdin.on('error', () => {})
    const next = async (pred: (e: CliEvent) => boolean, what: string, ms = 60_000): Promise<CliEvent> => {
      const end = Date.now() + ms
      for (;;) {
        const found = events.find(pred)
        if (found) return found
        if (Date.now() > end || child.exitCode !== null || child.signalCode !== null) {
          const tail = JSON.stringify(events.slice(-20))
          throw new Error(
            `${name}: no ${what} (exit ${child.exitCode ?? child.signalCode}); last events ${tail}; stderr ${stderr}`
          )
        }
        await new Promise((r) => setTimeout(r, 50))
      }
    }
    const node = {
      dir,
      child,
      events,
      exited,
      stderr: () => stderr,
      send: (cmd: object) => {
        child.stdin.write(`${JSON.stringify(cmd)}\n`)
      },
      next,
      ask: async (cmd: object, ms = 60_000) => {
        const id = `ask-${++this.asks}`
        child.stdin.write(`${JSON.stringify({ ...cmd, id })}\n`)
        const r = await next((e) => e.id === id && (e.event === 'result' || e.event === 'error'), `answer ${id}`, ms)
        if (r.event === 'error') throw new Error(`${name}: ${JSON.stringify(cmd)} failed: ${r.code} ${r.message}`)
        return r.result
      }
    }
    const ready = await next((e) => e.event === 'ready', 'ready')
    return { ...node, ready }
  }

  /** The relay daemon on a fresh data directory: its bootstrap address, peer id and Prometheus metrics. */
  async relay(): Promise<{ bootstrap: string; peerId: string; metric(name: string): Promise<number> }> {
    const dir = await this.tempDir('relay')
    const child = spawn(PARLEY_RELAY, ['--data', dir, '--listen', '/ip4/127.0.0.1/tcp/0', '--http-port', '0'], {
      env: this.env
    })
    this.children.push(child)
    let out = ''
    let err = ''
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString()
    })
    const printed = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`relay did not start: ${out} ${err}`)), 60_000)
      child.once('exit', (code) => reject(new Error(`relay exited ${code}: ${out} ${err}`)))
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString()
        if (/^bootstrap:/m.test(out) && /^http:/m.test(out)) {
          clearTimeout(timer)
          resolve(out)
        }
      })
    })
    const bootstrap = printed.match(/^bootstrap:\s+(\S+)/m)![1]!
    const url = printed.match(/^http:\s+(\S+)/m)![1]!
    return {
      bootstrap,
      peerId: bootstrap.split('/p2p/')[1]!,
      metric: async (name) => {
        const text = await (await fetch(`${url}/metrics`)).text()
        const line = text.split('\n').find((l) => l.startsWith(`${name} `))
        return line === undefined ? Number.NaN : Number(line.split(' ')[1])
      }
    }
  }

  async cleanup(): Promise<void> {
    const gone = this.children
      .filter((c) => c.exitCode === null && c.signalCode === null)
      .map((c) => {
        const exited = new Promise((r) => c.once('exit', r))
        c.kill('SIGKILL')
        return exited
      })
    await Promise.all(gone)
    await Promise.all(this.dirs.map((d) => rm(d, { recursive: true, force: true })))
  }
}
