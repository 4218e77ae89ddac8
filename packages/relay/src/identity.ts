/**
 * The relay's libp2p identity on disk: one protobuf-encoded Ed25519 private key in a file of mode 0600, created once
 * and kept, so the PeerId (and with it every bootstrap address users have copied) survives restarts and upgrades.
 */
import { link, open, readFile, stat, unlink } from 'node:fs/promises'
import { dirname } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { CorruptKeyFileError } from './errors.ts'

export interface LoadedKey {
  key: PrivateKey
  /** True when this call generated the key (first start on this data directory). */
  created: boolean
  /** True when the file is readable by group or others: the caller warns the operator. */
  exposed: boolean
}

async function readKey(path: string): Promise<LoadedKey | undefined> {
  let bytes: Uint8Array
  try {
    bytes = await readFile(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  let key: PrivateKey
  try {
    key = privateKeyFromProtobuf(bytes)
  } catch {
    throw new CorruptKeyFileError(path)
  }
  const { mode } = await stat(path)
  return { key, created: false, exposed: (mode & 0o077) !== 0 }
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/**
 * Reads the key at `path`, or creates it: written and synced to a temporary file, then hard-linked into place so
 * that a crash leaves either no key or a whole one, and two processes racing on a fresh directory agree on one key.
 */
export async function loadOrCreatePrivateKey(path: string): Promise<LoadedKey> {
  const existing = await readKey(path)
  if (existing !== undefined) return existing
  const key = await generateKeyPair('Ed25519')
  const tmp = `${path}.${process.pid}.tmp`
  const handle = await open(tmp, 'w', 0o600)
  try {
    await handle.writeFile(privateKeyToProtobuf(key))
    await handle.sync()
  } finally {
    await handle.close()
  }
  try {
    await link(tmp, path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    // Another process won the race: use its key.
    await unlink(tmp)
    const theirs = await readKey(path)
    if (theirs === undefined) throw err
    return theirs
  }
  await unlink(tmp)
  await fsyncDir(dirname(path))
  return { key, created: true, exposed: false }
}
