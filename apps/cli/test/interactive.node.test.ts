/** `parley run` without --json: the readable interactive chat, driven through its stdin as a person types. */
import { execFile, spawn } from 'node:child_process'
import { generateKeyPairSync } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'

const PARLEY = resolve(import.meta.dirname, '../../../node_modules/.bin/parley')
const ENV = {
  PATH: '/usr/local/bin:/usr/bin:/bin',
  HOME: tmpdir(),
  PARLEY_PASSPHRASE: 'interactive',
  PARLEY_UNSAFE_FAST_KDF: '1'
}
const dirs: string[] = []
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))))

/** A genuine Ed25519 public key (hex), as a contact's identity is: off-curve and torsioned points are refused. */
function genuineKey(): string {
  const jwk = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' })
  return Buffer.from(jwk.x!, 'base64url').toString('hex')
}

describe('interactive parley run', () => {
  it('shows identity and invite, adds a contact, refuses an unknown command with a clear error, and quits', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'parley-interactive-'))
    dirs.push(dir)
    await promisify(execFile)(PARLEY, ['init', '--data', dir], { env: ENV })
    const child = spawn(PARLEY, ['run', '--data', dir], { env: ENV })
    let out = ''
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
    })
    const waitFor = async (text: string) => {
      const end = Date.now() + 30_000
      while (!out.includes(text)) {
        if (Date.now() > end) throw new Error(`no "${text}" in: ${out}`)
        await new Promise((r) => setTimeout(r, 50))
      }
    }
    await waitFor('Invite: parley://invite/')
    expect(out).toMatch(/Parley node running\. Identity [0-9a-f]{16}…/)
    child.stdin.write(`/add ${genuineKey()} dora\n`)
    await waitFor('"name": "dora"')
    child.stdin.write('/to dora\n')
    await waitFor('talking to dora')
    child.stdin.write('/bogus\n')
    await waitFor('error: unknown command /bogus')
    child.stdin.write('hello while dora is away\n')
    await waitFor('(queued: not reachable now, will retry)')
    const exited = new Promise<number | null>((r) => child.on('exit', r))
    child.stdin.write('/quit\n')
    expect(await exited).toBe(0)
  })
})
