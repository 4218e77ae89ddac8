/**
 * Backup and restore of a profile. The profile store encrypts every record under the passphrase (scrypt + AES-GCM;
 * record names are keyed hashes), so a backup is the store's raw records as they are on disk: nothing is decrypted to
 * make it, and it opens only with the passphrase. Format (JSON): `{ format: 'parley-web-backup', v: 1, createdAt,
 * records: [[key, base64 value], ...] }`. A restore writes the records into an empty profile database in one batch.
 */
import { type Datastore, Key } from 'interface-datastore'
import { MAX_BACKUP_BYTES } from './constants.ts'
import { BackupTooLargeError, BadBackupError, ProfileExistsError } from './errors.ts'

export const BACKUP_FORMAT = 'parley-web-backup'
export const BACKUP_VERSION = 1

function toBase64(bytes: Uint8Array): string {
  let s = ''
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
  return btoa(s)
}

function fromBase64(text: string): Uint8Array {
  const s = atob(text)
  const out = new Uint8Array(s.length)
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i)
  return out
}

/** Every raw record of a profile datastore, as a backup file's text. */
export async function exportBackup(ds: Datastore, now = Date.now()): Promise<string> {
  const records: [string, string][] = []
  for await (const { key, value } of ds.query({})) records.push([key.toString(), toBase64(value)])
  if (records.length === 0) throw new BadBackupError('the profile is empty')
  return JSON.stringify({ format: BACKUP_FORMAT, v: BACKUP_VERSION, createdAt: now, records })
}

/** Parses a backup file's text (bounded by `limit` bytes); the records stay encrypted. */
export function parseBackup(text: string, limit = MAX_BACKUP_BYTES): Array<[string, Uint8Array]> {
  if (text.length > limit) throw new BackupTooLargeError(text.length, limit)
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    throw new BadBackupError('not JSON')
  }
  const b = body as Record<string, unknown>
  if (typeof b !== 'object' || b === null || b.format !== BACKUP_FORMAT) throw new BadBackupError('wrong format')
  if (b.v !== BACKUP_VERSION) throw new BadBackupError(`unknown version ${String(b.v)}`)
  if (!Array.isArray(b.records) || b.records.length === 0) throw new BadBackupError('no records')
  return b.records.map((r: unknown) => {
    if (!Array.isArray(r) || r.length !== 2 || typeof r[0] !== 'string' || typeof r[1] !== 'string')
      throw new BadBackupError('a record is malformed')
    if (!r[0].startsWith('/')) throw new BadBackupError('a record key is malformed')
    try {
      return [r[0], fromBase64(r[1])] as [string, Uint8Array]
    } catch {
      throw new BadBackupError('a record value is not base64')
    }
  })
}

/** Writes a backup's records into an empty datastore (refuses one that holds a profile). */
export async function restoreBackup(ds: Datastore, records: Array<[string, Uint8Array]>): Promise<void> {
  for await (const _ of ds.query({ limit: 1 })) throw new ProfileExistsError()
  const batch = ds.batch()
  for (const [k, v] of records) batch.put(new Key(k), v)
  await batch.commit()
}
