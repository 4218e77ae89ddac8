/** `parley export` / `parley import`: the identity and contacts move to a new profile; a wrong passphrase is refused. */
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'

const PARLEY = resolve(import.meta.dirname, '../../../node_modules/.bin/parley')
const ENV = {
  PATH: '/usr/local/bin:/usr/bin:/bin',
  HOME: tmpdir(),
  PARLEY_PASSPHRASE: 'moving house',
  PARLEY_UNSAFE_FAST_KDF: '1'
}
const exec = promisify(execFile)
const dirs: string[] = []
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))))

async function parley(env: Record<string, string>, ...args: string[]): Promise<string> {
  return (await exec(PARLEY, args, { env, timeout: 60_000 })).stdout
}

describe('profile export and import', () => {
  it('moves identity and contacts to a new profile; the export holds no plaintext; a wrong passphrase is refused', async () => {
    const root = await mkdtemp(join(tmpdir(), 'parley-transfer-'))
    dirs.push(root)
    const from = join(root, 'old')
    const to = join(root, 'new')
    const file = join(root, 'me.parley-export')
    await parley(ENV, 'init', '--data', from)
    const contact = 'cd'.repeat(32) // a valid Ed25519 point: invalid keys are refused as contacts
    await parley(ENV, 'add', contact, '--name', 'carol-the-contact', '--data', from)
    const idBefore = await parley(ENV, 'id', '--no-qr', '--data', from)
    await parley(ENV, 'export', file, '--data', from)

    const bytes = await readFile(file)
    expect(bytes.includes(Buffer.from('carol-the-contact'))).toBe(false)
    expect(bytes.includes(Buffer.from(contact))).toBe(false)

    await expect(
      parley({ ...ENV, PARLEY_PASSPHRASE: 'not it' }, 'import', file, '--data', join(root, 'nope'))
    ).rejects.toThrow(/wrong passphrase/)
    await parley(ENV, 'import', file, '--data', to)
    const idAfter = await parley(ENV, 'id', '--no-qr', '--data', to)
    expect(idAfter.split('\n')[0]).toBe(idBefore.split('\n')[0])
    expect(await parley(ENV, 'contacts', '--data', to)).toContain('carol-the-contact')
    await expect(parley(ENV, 'import', file, '--data', to)).rejects.toThrow(/already exists/)
  })
})
