/**
 * The parley-relay daemon as an operator runs it: real processes started from a plain shell (PATH without the
 * project's Node, so `node` there is the machine's own), real sockets on 127.0.0.1, SIGTERM to stop.
 */
import { type ChildProcessWithoutNullStreams, execFile, spawn } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { afterAll, describe, expect, it } from 'vitest'

const RELAY = resolve(import.meta.dirname, '../../../node_modules/.bin/parley-relay')
const ENV = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: tmpdir() }
const dirs: string[] = []
const children: ChildProcessWithoutNullStreams[] = []

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL')
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })))
})

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'parley-relay-daemon-'))
  dirs.push(dir)
  return dir
}

/** Runs parley-relay to completion (for --help and bad values). */
function runOnce(args: string[], env: Record<string, string> = {}) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((done) => {
    execFile(RELAY, args, { env: { ...ENV, ...env }, timeout: 30_000 }, (err, stdout, stderr) => {
      done({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr })
    })
  })
}

interface Daemon {
  child: ChildProcessWithoutNullStreams
  peerId: string
  addresses: string[]
  http: string
  bootstrap: string
  stderr: () => string
  /** SIGTERM; resolves with the exit code and how long the exit took. */
  terminate(): Promise<{ code: number | null; ms: number }>
}

/** Starts the daemon and parses its start-up banner (stdout). */
async function start(args: string[], env: Record<string, string> = {}): Promise<Daemon> {
  const child = spawn(RELAY, ['--http-port', '0', '--listen', '/ip4/127.0.0.1/tcp/0', ...args], {
    env: { ...ENV, ...env }
  })
  children.push(child)
  let err = ''
  child.stderr.on('data', (c: Buffer) => {
    err += c.toString()
  })
  const exited = new Promise<number | null>((r) =>
    child.once('exit', (code, signal) => {
      // A signal instead of an exit code: say which, with the end of stderr, so a failure says what killed it.
      if (code === null) console.error(`parley-relay ended by ${signal}; stderr: ${err.slice(-2000)}`)
      r(code)
    })
  )
  const lines: string[] = []
  const banner = await new Promise<string[]>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`no banner in 30 s; stderr: ${err}`)), 30_000)
    child.once('exit', (code) => fail(new Error(`exited ${code} before its banner; stderr: ${err}`)))
    createInterface({ input: child.stdout }).on('line', (line) => {
      lines.push(line)
      if (line.startsWith('  parley run --bootstrap ')) {
        clearTimeout(timer)
        ok(lines)
      }
    })
  })
  const field = (name: string) =>
    banner
      .filter((l) => l.startsWith(`${name}:`))
      .map(
        (l) =>
          l
            .slice(name.length + 1)
            .trim()
            .split(/\s+/)[0]!
      )
  return {
    child,
    peerId: field('peer id')[0]!,
    addresses: field('address'),
    http: field('http')[0]!,
    bootstrap: field('bootstrap')[0]!,
    stderr: () => err,
    terminate: async () => {
      const t = Date.now()
      child.kill('SIGTERM')
      const code = await exited
      return { code, ms: Date.now() - t }
    }
  }
}

function sample(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `))
  return line === undefined ? undefined : Number(line.slice(name.length + 1))
}

describe('parley-relay', () => {
  it('--help works from a plain shell on the pinned Node', async () => {
    const { code, stdout } = await runOnce(['--help'])
    expect(code).toBe(0)
    expect(stdout).toContain('Usage: parley-relay [options]')
    for (const flag of ['--data', '--listen', '--max-reservations', '--mailbox-ttl', '--config', '--log-level'])
      expect(stdout).toContain(flag)
  })

  it('a bad value from a flag, the environment or the config file exits 2 with one line naming it', async () => {
    const dir = await tempDir()
    const cases: Array<{ args: string[]; env?: Record<string, string>; message: RegExp }> = [
      {
        args: ['--http-port', 'eighty'],
        message: /^parley-relay: --http-port: expected a port number 0-65535, got "eighty"$/
      },
      {
        args: [],
        env: { PARLEY_RELAY_MAX_RESERVATIONS: '0' },
        message: /^parley-relay: \$PARLEY_RELAY_MAX_RESERVATIONS: expected an integer >= 1, got "0"$/
      },
      { args: ['--mailbox-ttl', '3 fortnights'], message: /^parley-relay: --mailbox-ttl: expected a time/ },
      {
        args: ['--log-level', 'loud'],
        message: /^parley-relay: --log-level: expected debug, info, warn, error, silent/
      },
      { args: ['--frobnicate'], message: /^parley-relay: Unknown option '--frobnicate'/ },
      // Found by review: a malformed address used to exit 1 with the multiaddr library's raw error.
      {
        args: ['--listen', 'garbage'],
        message: /^parley-relay: --listen: expected a multiaddr such as \/ip4\/0\.0\.0\.0\/tcp\/4001, got "garbage" \(/
      },
      {
        args: [],
        env: { PARLEY_RELAY_ANNOUNCE: '/ip4/203.0.113.7/tcp/4001,/dns4/' },
        message: /^parley-relay: \$PARLEY_RELAY_ANNOUNCE: expected a multiaddr .*got "\/dns4\/"/
      },
      {
        args: ['--bootstrap', '/ip4/127.0.0.1/tcp/4001'],
        message:
          /^parley-relay: --bootstrap: .*got "\/ip4\/127\.0\.0\.1\/tcp\/4001" \(it names no peer: end it with '\/p2p\/<peer id>'\)$/
      },
      { args: ['--config', join(dir, 'missing.json')], message: /^parley-relay: --config .*missing\.json: cannot read/ }
    ]
    await writeFile(join(dir, 'typo.json'), JSON.stringify({ maxReservation: 5 }))
    cases.push({ args: ['--config', join(dir, 'typo.json')], message: /typo\.json: unknown key "maxReservation"$/ })
    await writeFile(join(dir, 'bad.json'), JSON.stringify({ relayDataLimit: '4 lots' }))
    cases.push({ args: ['--config', join(dir, 'bad.json')], message: /bad\.json: relayDataLimit: expected a size/ })
    await writeFile(join(dir, 'addr.json'), JSON.stringify({ listen: ['/ip4/0.0.0.0/tcp/4001', 'tcp://0.0.0.0:4001'] }))
    cases.push({
      args: ['--config', join(dir, 'addr.json')],
      message: /addr\.json: listen: expected a multiaddr .*"tcp:\/\/0\.0\.0\.0:4001"/
    })

    for (const c of cases) {
      const { code, stdout, stderr } = await runOnce(['--data', join(dir, 'data'), ...c.args], c.env)
      expect(code, c.args.join(' ')).toBe(2)
      expect(stdout).toBe('')
      const lines = stderr.trimEnd().split('\n')
      expect(lines, stderr).toHaveLength(1)
      expect(lines[0]).toMatch(c.message)
    }
  })

  it('takes each setting from flags over the environment over the config file', async () => {
    const dir = await tempDir()
    const config = join(dir, 'relay.json')
    await writeFile(config, JSON.stringify({ maxReservations: 11, data: join(dir, 'data') }))
    const reservationsLimit = async (args: string[], env: Record<string, string>) => {
      const d = await start(['--config', config, ...args], env)
      const text = await (await fetch(`${d.http}/metrics`)).text()
      expect((await d.terminate()).code).toBe(0)
      return sample(text, 'parley_relay_max_reservations')
    }
    expect(await reservationsLimit([], {})).toBe(11)
    expect(await reservationsLimit([], { PARLEY_RELAY_MAX_RESERVATIONS: '22' })).toBe(22)
    expect(await reservationsLimit(['--max-reservations', '33'], { PARLEY_RELAY_MAX_RESERVATIONS: '22' })).toBe(33)
    // The config file may also come from the environment.
    const viaEnv = await start([], { PARLEY_RELAY_CONFIG: config })
    const text = await (await fetch(`${viaEnv.http}/metrics`)).text()
    expect((await viaEnv.terminate()).code).toBe(0)
    expect(sample(text, 'parley_relay_max_reservations')).toBe(11)
  })

  it('starts, prints its addresses, serves /healthz, /metrics and the web dir, keeps its PeerId and stops on SIGTERM', async () => {
    const dir = await tempDir()
    const web = join(dir, 'web')
    await mkdir(web)
    await writeFile(join(web, 'index.html'), '<!doctype html><title>Parley web</title>')
    const data = join(dir, 'data')

    const first = await start(['--data', data, '--web', web, '--listen', '/ip4/127.0.0.1/tcp/0/ws'])
    expect(first.peerId).toMatch(/^12D3KooW/)
    expect(first.addresses).toHaveLength(2)
    for (const a of first.addresses)
      expect(a).toMatch(new RegExp(`^/ip4/127\\.0\\.0\\.1/tcp/\\d+(/ws)?/p2p/${first.peerId}$`))
    expect(first.bootstrap).toBe(first.addresses.find((a) => !a.includes('/ws')))
    expect(first.http).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)

    const health = await fetch(`${first.http}/healthz`)
    expect(health.status).toBe(200)
    expect(await health.json()).toMatchObject({ status: 'ok', peerId: first.peerId })
    const metrics = await fetch(`${first.http}/metrics`)
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/)
    const text = await metrics.text()
    for (const name of [
      'parley_relay_reservations',
      'parley_mailbox_mailboxes',
      'parley_mailbox_stored_envelopes',
      'parley_mailbox_stored_bytes',
      'parley_mailbox_deposits_total',
      'parley_mailbox_fetched_total',
      'parley_mailbox_acked_total',
      'parley_mailbox_purged_total',
      'parley_mailbox_prekeys_handed_out_total',
      'parley_mailbox_rejects_total',
      'libp2p_connection_manager_connections'
    ])
      expect(text).toContain(`# TYPE ${name} `)
    const page = await fetch(`${first.http}/`)
    expect(page.status).toBe(200)
    expect(await page.text()).toContain('Parley web')

    // Logs are JSON lines on stderr.
    const started = first
      .stderr()
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((e) => e.event === 'relay.started')
    expect(started).toMatchObject({ level: 'info', peerId: first.peerId })

    const stopped = await first.terminate()
    expect(stopped.code).toBe(0)
    expect(stopped.ms).toBeLessThan(5000)
    expect(first.stderr()).toContain('"event":"relay.stopped"')

    const second = await start(['--data', data])
    expect(second.peerId).toBe(first.peerId)
    expect((await second.terminate()).code).toBe(0)
  })
})
