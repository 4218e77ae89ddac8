/**
 * `parley export` / `parley import`: identity, device keys and contacts, encrypted under the passphrase, to move a
 * profile to a new machine. Sessions are not exported: contacts' nodes start new sessions with the moved device
 * (without an identity warning: the identity is the same).
 *
 * File, version 2 (written since the security review):
 *
 *   header = "PARLEY-EXPORT\n" ‖ version (1 byte, 2) ‖ salt (16) ‖ nonce (12)
 *   key    = HKDF-SHA-256(ikm = scrypt(NFKC(passphrase), salt, N=2^17, r=8, p=1, 32 bytes), salt = none,
 *                         info = "parley/export/v2/key", 32 bytes)
 *   file   = header ‖ AES-256-GCM(key, nonce, associated data = header, JSON of the records) ‖ tag (16)
 *
 * Why each part: the HKDF label keeps the export key apart from any other key derived from the same passphrase (the
 * profile's key-encryption key is scrypt of the same passphrase too); the whole header is authenticated, so a changed
 * version byte, salt or nonce fails like a wrong passphrase instead of selecting another construction; the passphrase
 * is NFKC-normalised as the profile store does (packages/store keys.ts), so the same passphrase typed with composed or
 * decomposed accents opens both.
 *
 * Version 1 (key = raw scrypt of the passphrase as given, associated data = the magic only) is still imported: such
 * files exist. It is never written.
 *
 * The file is private from its first instant: written to a new temporary file in the same directory, opened with
 * O_CREAT|O_EXCL and mode 0600, synced, then renamed over the target. An existing target (of any mode) is replaced by
 * that 0600 file; `writeFile(..., { mode })` would have kept an existing file's mode.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes, scrypt } from 'node:crypto'
import { open, readFile, rename, rm } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { resolvePassphrase } from '@parley/store'
import { CommandError } from './commands.ts'
import { PRIVATE_FILE_MODE } from './constants.ts'
import { openProfile, type ProfileOptions, profileExists } from './profile.ts'

const MAGIC = new TextEncoder().encode('PARLEY-EXPORT\n')
/** The version this build writes. */
export const EXPORT_VERSION = 2
/** The version without a key label or header binding; still imported. */
const EXPORT_VERSION_1 = 1
/** HKDF info of the version-2 export key (docs/crypto KDF registry). */
export const EXPORT_KEY_INFO = 'parley/export/v2/key'
const SALT_BYTES = 16
const NONCE_BYTES = 12
const TAG_BYTES = 16
const HEADER_BYTES = MAGIC.length + 1 + SALT_BYTES + NONCE_BYTES
const SCRYPT = { N: 2 ** 17, r: 8, p: 1, maxmem: 256 * 1024 * 1024 }
const EXPORTED: ReadonlyArray<{ ns: 'meta' | 'contacts' | 'devices' }> = [
  { ns: 'meta' },
  { ns: 'contacts' },
  { ns: 'devices' }
]

function scryptKey(password: string | Buffer, salt: Uint8Array): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password, salt, 32, SCRYPT, (err, k) => (err ? reject(err) : resolve(k)))
  )
}

async function keyFor(version: number, passphrase: string, salt: Uint8Array): Promise<Buffer> {
  if (version === EXPORT_VERSION_1) return scryptKey(passphrase, salt)
  const password = Buffer.from(passphrase.normalize('NFKC'), 'utf8')
  const stretched = await scryptKey(password, salt)
  try {
    return Buffer.from(hkdfSync('sha256', stretched, new Uint8Array(0), EXPORT_KEY_INFO, 32))
  } finally {
    password.fill(0)
    stretched.fill(0)
  }
}

async function passphraseOf(profile: ProfileOptions): Promise<string> {
  return resolvePassphrase({ ...(profile.passphraseFile !== undefined && { file: profile.passphraseFile }) })
}

/** Writes `bytes` to `file` through a new 0600 file in the same directory, renamed into place. */
async function writePrivateFile(file: string, bytes: Uint8Array): Promise<void> {
  const temporary = join(dirname(file), `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`)
  let handle: Awaited<ReturnType<typeof open>> | undefined
  try {
    handle = await open(temporary, 'wx', PRIVATE_FILE_MODE)
    await handle.writeFile(bytes)
    await handle.sync()
    await handle.close()
    handle = undefined
    await rename(temporary, file)
  } catch (e) {
    await handle?.close().catch(() => {})
    await rm(temporary, { force: true })
    const code = (e as NodeJS.ErrnoException).code
    throw new CommandError('ExportWrite', `cannot write ${file} (${code ?? (e as Error).message})`)
  }
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
  const salt = randomBytes(SALT_BYTES)
  const nonce = randomBytes(NONCE_BYTES)
  const header = Buffer.concat([MAGIC, Buffer.from([EXPORT_VERSION]), salt, nonce])
  const key = await keyFor(EXPORT_VERSION, await passphraseOf(profile), salt)
  const cipher = createCipheriv('aes-256-gcm', key, nonce)
  key.fill(0)
  cipher.setAAD(header)
  const body = Buffer.concat([cipher.update(JSON.stringify(records)), cipher.final(), cipher.getAuthTag()])
  await writePrivateFile(file, Buffer.concat([header, body]))
  process.stdout.write(`Exported identity and ${Object.keys(records.contacts ?? {}).length} contacts to ${file}\n`)
}

export async function importProfile(dir: string, profile: ProfileOptions, file: string): Promise<void> {
  if (profileExists(dir)) throw new CommandError('ProfileExists', `a profile already exists at ${dir}`)
  const bytes = await readFile(file).catch((e: NodeJS.ErrnoException) => {
    throw new CommandError('NotAnExport', `cannot read ${file} (${e.code ?? e.message})`)
  })
  if (bytes.length < HEADER_BYTES + TAG_BYTES || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new CommandError('NotAnExport', `${file} is not a Parley export`)
  }
  const version = bytes[MAGIC.length]!
  if (version !== EXPORT_VERSION && version !== EXPORT_VERSION_1)
    throw new CommandError('UnknownExportVersion', `${file}: export version ${version} is not known to this parley`)
  const salt = bytes.subarray(MAGIC.length + 1, MAGIC.length + 1 + SALT_BYTES)
  const nonce = bytes.subarray(MAGIC.length + 1 + SALT_BYTES, HEADER_BYTES)
  const body = bytes.subarray(HEADER_BYTES)
  const key = await keyFor(version, await passphraseOf(profile), salt)
  const decipher = createDecipheriv('aes-256-gcm', key, nonce)
  key.fill(0)
  decipher.setAAD(version === EXPORT_VERSION_1 ? MAGIC : bytes.subarray(0, HEADER_BYTES))
  decipher.setAuthTag(body.subarray(body.length - TAG_BYTES))
  let json: string
  try {
    json = Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]).toString(
      'utf8'
    )
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
