/**
 * parley-relay's STUN/TURN settings: `--ice-server <url>` (repeatable; PARLEY_RELAY_ICE_SERVER comma-separated;
 * config key `iceServer`) and `--turn-secret` (PARLEY_RELAY_TURN_SECRET; `turnSecret`), resolved into the relay's
 * options, bad values refused with the setting's name (never the secret's value), and the real daemon serving them
 * in GET /parley.json.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { afterAll, describe, expect, it } from 'vitest'
import { ConfigError, helpText, resolveConfig } from '../src/config.ts'

const RELAY = resolve(import.meta.dirname, '../../../node_modules/.bin/parley-relay')
const SECRET = 'a coturn static-auth-secret'
const dirs: string[] = []
const children: ChildProcessWithoutNullStreams[] = []

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL')
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })))
})

describe('ICE server settings', () => {
  it('flags: --ice-server is repeatable and --turn-secret reaches the relay options', () => {
    const { relay, sources } = resolveConfig(
      ['--ice-server', 'stun:203.0.113.9:3478', '--ice-server', 'turn:203.0.113.9:3478', '--turn-secret', SECRET],
      {}
    )
    expect(relay.iceServers).toEqual(['stun:203.0.113.9:3478', 'turn:203.0.113.9:3478'])
    expect(relay.turnSecret).toBe(SECRET)
    expect(sources).toMatchObject({ iceServer: '--ice-server', turnSecret: '--turn-secret' })
  })

  it('environment (comma-separated) and config file keys work, flags win', async () => {
    const fromEnv = resolveConfig([], {
      PARLEY_RELAY_ICE_SERVER: 'stun:a.example.org, turns:a.example.org:5349?transport=tcp',
      PARLEY_RELAY_TURN_SECRET: SECRET
    })
    expect(fromEnv.relay.iceServers).toEqual(['stun:a.example.org', 'turns:a.example.org:5349?transport=tcp'])
    expect(fromEnv.relay.turnSecret).toBe(SECRET)
    const dir = await mkdtemp(join(tmpdir(), 'parley-relay-ice-config-'))
    dirs.push(dir)
    const file = join(dir, 'relay.json')
    await writeFile(file, JSON.stringify({ iceServer: ['turn:b.example.org:3478'], turnSecret: SECRET }))
    const fromFile = resolveConfig(['--config', file], {})
    expect(fromFile.relay.iceServers).toEqual(['turn:b.example.org:3478'])
    expect(fromFile.relay.turnSecret).toBe(SECRET)
    const flagsWin = resolveConfig(['--config', file, '--ice-server', 'stun:c.example.org'], {})
    expect(flagsWin.relay.iceServers).toEqual(['stun:c.example.org'])
  })

  it('no setting: no ICE servers and no secret', () => {
    const { relay } = resolveConfig([], {})
    expect(relay.iceServers).toBeUndefined()
    expect(relay.turnSecret).toBeUndefined()
  })

  it('a bad URL or a short secret is a ConfigError naming the setting; the secret value is never quoted', () => {
    expect(() => resolveConfig(['--ice-server', 'http://turn.example.org'], {})).toThrow(/--ice-server/)
    const short = 'short-secret'
    let err: unknown
    try {
      resolveConfig(['--turn-secret', short], {})
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(ConfigError)
    expect((err as Error).message).toMatch(/--turn-secret/)
    expect((err as Error).message).not.toContain(short)
    expect(helpText()).toMatch(/--ice-server <url>/)
    expect(helpText()).toMatch(/--turn-secret <secret>/)
  })

  it('the daemon serves its ICE servers with TURN credentials in /parley.json, never the secret', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'parley-relay-ice-daemon-'))
    dirs.push(dir)
    const child = spawn(
      RELAY,
      [
        '--data',
        dir,
        '--http-port',
        '0',
        '--listen',
        '/ip4/127.0.0.1/tcp/0/ws',
        '--ice-server',
        'stun:127.0.0.1:3478',
        '--ice-server',
        'turn:127.0.0.1:3478?transport=udp'
      ],
      { env: { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: dir, PARLEY_RELAY_TURN_SECRET: SECRET } }
    )
    children.push(child)
    let stderr = ''
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString()
    })
    const http = await new Promise<string>((ok, fail) => {
      const rl = createInterface({ input: child.stdout })
      rl.on('line', (line) => {
        const m = /^http:\s+(\S+)/.exec(line)
        if (m) ok(m[1]!)
      })
      child.once('exit', (code) => fail(new Error(`parley-relay exited (${code}): ${stderr}`)))
    })
    const text = await (await fetch(`${http}/parley.json`)).text()
    expect(text).not.toContain(SECRET)
    const body = JSON.parse(text) as { relays: string[]; iceServers: Array<Record<string, unknown>> }
    expect(body.relays).toHaveLength(1)
    expect(body.relays[0]).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/ws\/p2p\/12D3KooW/)
    expect(body.iceServers).toHaveLength(2)
    expect(body.iceServers[0]).toEqual({ urls: ['stun:127.0.0.1:3478'] })
    expect(body.iceServers[1]).toMatchObject({ urls: ['turn:127.0.0.1:3478?transport=udp'] })
    expect(body.iceServers[1]!.username).toMatch(/^\d+:/)
    expect(typeof body.iceServers[1]!.credential).toBe('string')
    child.kill('SIGTERM')
    await new Promise((r) => child.once('exit', r))
    expect(stderr).not.toContain(SECRET)
  })
})
