/**
 * `parley export` / `parley import`: identity, device keys and contacts, encrypted under the passphrase, to move a
 * profile to a new machine. Sessions are not exported: contacts' nodes start new sessions with the moved device
 * (without an identity warning: the identity is the same).
 *
 * File: "PARLEY-EXPORT\n" ‖ version (1) ‖ salt (16) ‖ nonce (12) ‖ AES-256-GCM(scrypt(passphrase, salt), JSON).
 */
import { createCipheriv, createDecipheriv, randomBytes, scrypt } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { resolvePassphrase } from '@parley/store'
import { CommandError } from './commands.ts'
import { openProfile, type ProfileOptions, profileExists } from './profile.ts'

const MAGIC = new TextEncoder().encode('PARLEY-EXPORT\n')
const VERSION = 1
const SCRYPT = { N: 2 ** 17, r: 8, p: 1, maxmem: 256 * 1024 * 1024 }
const EXPORTED: ReadonlyArray<{ ns: 'meta' | 'contacts' | 'devices' }> = [
  { ns: 'meta' },
  { ns: 'contacts' },
  { ns: 'devices' }
]

function key(passphrase: string, salt: Uint8Array): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(passphrase, salt, 32, SCRYPT, (err, k) => (err ? reject(err) : resolve(k)))
  )
}

async function passphraseOf(profile: ProfileOptions): Promise<string> {
  return resolvePassphrase({ ...(profile.passphraseFile !== undefined && { file: profile.passphraseFile }) })
}

export async function exportProfile(dir: string, profile: ProfileOptions, file: string): Promise<void> {
  const store = await openProfile(dir, profile)
  const records: Record<string, Record<string, string>> = {}
  try {
    for (const { ns } of EXPORTED) {
      records[ns] = {}
      for await (const { key: k, value } of store.query(ns)) records[ns]![k] = Buffer.from(value).toString('base64')
    }
  } finally {
    await store.close()
  }
  const salt = randomBytes(16)
  const nonce = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', await key(await passphraseOf(profile), salt), nonce)
  cipher.setAAD(MAGIC)
  const body = Buffer.concat([cipher.update(JSON.stringify(records)), cipher.final(), cipher.getAuthTag()])
  await writeFile(file, Buffer.concat([MAGIC, Buffer.from([VERSION]), salt, nonce, body]), { mode: 0o600 })
  process.stdout.write(`Exported identity and ${Object.keys(records.contacts ?? {}).length} contacts to ${file}\n`)
}

export async function importProfile(dir: string, profile: ProfileOptions, file: string): Promise<void> {
  if (profileExists(dir)) throw new CommandError('ProfileExists', `a profile already exists at ${dir}`)
  const bytes = await readFile(file)
  if (bytes.length < MAGIC.length + 1 + 28 + 16 || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new CommandError('NotAnExport', `${file} is not a Parley export`)
  }
  if (bytes[MAGIC.length] !== VERSION)
    throw new CommandError('UnknownExportVersion', `export version ${bytes[MAGIC.length]}`)
  const salt = bytes.subarray(MAGIC.length + 1, MAGIC.length + 17)
  const nonce = bytes.subarray(MAGIC.length + 17, MAGIC.length + 29)
  const body = bytes.subarray(MAGIC.length + 29)
  const decipher = createDecipheriv('aes-256-gcm', await key(await passphraseOf(profile), salt), nonce)
  decipher.setAAD(MAGIC)
  decipher.setAuthTag(body.subarray(body.length - 16))
  let json: string
  try {
    json = Buffer.concat([decipher.update(body.subarray(0, body.length - 16)), decipher.final()]).toString('utf8')
  } catch {
    throw new CommandError('WrongPassphrase', 'wrong passphrase, or the export is damaged')
  }
  const records = JSON.parse(json) as Record<string, Record<string, string>>
  const store = await openProfile(dir, { ...profile, create: true })
  try {
    const b = store.batch()
    for (const { ns } of EXPORTED) {
      for (const [k, v] of Object.entries(records[ns] ?? {})) b.put(ns, k, new Uint8Array(Buffer.from(v, 'base64')))
    }
    await b.commit()
  } finally {
    await store.close()
  }
  process.stdout.write(`Imported identity and ${Object.keys(records.contacts ?? {}).length} contacts into ${dir}\n`)
}
