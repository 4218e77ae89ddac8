/** `parley export` / `parley import`: the identity and contacts move to a new profile; a wrong passphrase is refused. */
import { execFile } from 'node:child_process'
import { createCipheriv, createDecipheriv, generateKeyPairSync, hkdfSync, scryptSync } from 'node:crypto'
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
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

/** A genuine Ed25519 public key (hex), as a contact's identity is: off-curve and torsioned points are refused. */
function genuineKey(): string {
  const jwk = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' })
  return Buffer.from(jwk.x!, 'base64url').toString('hex')
}

describe('profile export and import', () => {
  it('moves identity and contacts to a new profile; the export holds no plaintext; a wrong passphrase is refused', async () => {
    const root = await mkdtemp(join(tmpdir(), 'parley-transfer-'))
    dirs.push(root)
    const from = join(root, 'old')
    const to = join(root, 'new')
    const file = join(root, 'me.parley-export')
    await parley(ENV, 'init', '--data', from)
    const contact = genuineKey()
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

/** The version-2 file format, written out here independently of src/transfer.ts. */
const MAGIC = Buffer.from('PARLEY-EXPORT\n')
const HEADER = MAGIC.length + 1 + 16 + 12
const SCRYPT = { N: 2 ** 17, r: 8, p: 1, maxmem: 256 * 1024 * 1024 }

function exportKeyV2(passphrase: string, salt: Buffer): Buffer {
  const stretched = scryptSync(Buffer.from(passphrase.normalize('NFKC'), 'utf8'), salt, 32, SCRYPT)
  return Buffer.from(hkdfSync('sha256', stretched, Buffer.alloc(0), 'parley/export/v2/key', 32))
}

function openV2(file: Buffer, passphrase: string): string {
  const salt = file.subarray(MAGIC.length + 1, MAGIC.length + 17)
  const nonce = file.subarray(MAGIC.length + 17, HEADER)
  const d = createDecipheriv('aes-256-gcm', exportKeyV2(passphrase, salt), nonce)
  d.setAAD(file.subarray(0, HEADER))
  d.setAuthTag(file.subarray(file.length - 16))
  return Buffer.concat([d.update(file.subarray(HEADER, file.length - 16)), d.final()]).toString('utf8')
}

/** A file as the previous release wrote it (version 1: raw scrypt key, only the magic authenticated). */
function sealV1(json: string, passphrase: string, salt: Buffer, nonce: Buffer): Buffer {
  const c = createCipheriv('aes-256-gcm', scryptSync(passphrase, salt, 32, SCRYPT), nonce)
  c.setAAD(MAGIC)
  const body = Buffer.concat([c.update(json), c.final(), c.getAuthTag()])
  return Buffer.concat([MAGIC, Buffer.from([1]), salt, nonce, body])
}

describe('export file format and access (security review, finding 10)', () => {
  it('is version 2: an HKDF-labelled key and the whole header authenticated; version-1 files still import', async () => {
    const root = await mkdtemp(join(tmpdir(), 'parley-transfer-v2-'))
    dirs.push(root)
    const from = join(root, 'old')
    const file = join(root, 'me.parley-export')
    await parley(ENV, 'init', '--data', from)
    await parley(ENV, 'add', genuineKey(), '--name', 'dave', '--data', from)
    await parley(ENV, 'export', file, '--data', from)

    const bytes = await readFile(file)
    expect(bytes.subarray(0, MAGIC.length).equals(MAGIC)).toBe(true)
    expect(bytes[MAGIC.length]).toBe(2)
    const json = openV2(bytes, ENV.PARLEY_PASSPHRASE)
    expect(Object.keys(JSON.parse(json).contacts)).toHaveLength(1)

    // Any change to the header (version, salt, nonce) fails authentication: it cannot select another construction.
    for (const at of [MAGIC.length, MAGIC.length + 1, HEADER - 1]) {
      const altered = Buffer.from(bytes)
      altered[at] = at === MAGIC.length ? 1 : altered[at]! ^ 1
      await writeFile(join(root, 'altered'), altered)
      await expect(parley(ENV, 'import', join(root, 'altered'), '--data', join(root, `altered-${at}`))).rejects.toThrow(
        /wrong passphrase, or the export is damaged/
      )
    }

    // Files of the previous release (version 1) exist: they still import.
    const v1 = sealV1(json, ENV.PARLEY_PASSPHRASE, Buffer.alloc(16, 7), Buffer.alloc(12, 9))
    await writeFile(join(root, 'v1.parley-export'), v1)
    await parley(ENV, 'import', join(root, 'v1.parley-export'), '--data', join(root, 'from-v1'))
    expect(await parley(ENV, 'contacts', '--data', join(root, 'from-v1'))).toContain('dave')
  })

  it('takes the passphrase NFKC-normalised, like the profile: typed decomposed, it opens an export made composed', async () => {
    const root = await mkdtemp(join(tmpdir(), 'parley-transfer-nfkc-'))
    dirs.push(root)
    const composed = { ...ENV, PARLEY_PASSPHRASE: 'caf\u00e9 cr\u00e8me' }
    const decomposed = { ...ENV, PARLEY_PASSPHRASE: 'cafe\u0301 cre\u0300me' }
    const file = join(root, 'me.parley-export')
    await parley(composed, 'init', '--data', join(root, 'old'))
    // The profile itself already opens with either form.
    const id = await parley(decomposed, 'id', '--no-qr', '--data', join(root, 'old'))
    await parley(composed, 'export', file, '--data', join(root, 'old'))
    await parley(decomposed, 'import', file, '--data', join(root, 'new'))
    expect((await parley(composed, 'id', '--no-qr', '--data', join(root, 'new'))).split('\n')[0]).toBe(
      id.split('\n')[0]
    )
  })

  it('is 0600 from the start even when it replaces an existing file others could read', async () => {
    const root = await mkdtemp(join(tmpdir(), 'parley-transfer-mode-'))
    dirs.push(root)
    const file = join(root, 'me.parley-export')
    await writeFile(file, 'an older file')
    await chmod(file, 0o644)
    await parley(ENV, 'init', '--data', join(root, 'p'))
    await parley(ENV, 'export', file, '--data', join(root, 'p'))
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    expect((await readFile(file)).subarray(0, MAGIC.length).equals(MAGIC)).toBe(true)
    // No temporary file is left next to it.
    const { readdir } = await import('node:fs/promises')
    expect((await readdir(root)).sort()).toEqual(['me.parley-export', 'p'])
  })
})
