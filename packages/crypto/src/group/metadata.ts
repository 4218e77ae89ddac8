/**
 * Parley's group metadata, carried in the MLS group context as extension GROUP_METADATA_EXTENSION, so every member
 * agrees on it and only a commit (checked against the admin rule) changes it:
 *
 *   u8 version | bytes name (UTF-8, ≤ MAX_GROUP_NAME_BYTES) | u32 admin count | fixed 32 admin identity key ...
 */
import type { Extension } from 'ts-mls'
import { equalBytes, Reader, Writer } from '../codec.ts'
import { GROUP_FORMAT_VERSION, GROUP_METADATA_EXTENSION, MAX_GROUP_ADMINS, MAX_GROUP_NAME_BYTES } from './constants.ts'
import { GroupInvalidMessageError, GroupLimitError } from './errors.ts'

/** What the group context says about the group beyond MLS. */
export interface GroupMetadata {
  readonly name: string
  /** Identity keys of the admins: only they may add, remove, rename or change admins. */
  readonly admins: readonly Uint8Array[]
}

const utf8 = new TextEncoder()
const fromUtf8 = new TextDecoder('utf-8', { fatal: true })

/** Encodes metadata; GroupLimitError when the name or admin list is too long. */
export function encodeGroupMetadata(m: GroupMetadata): Uint8Array {
  const name = utf8.encode(m.name)
  if (name.length > MAX_GROUP_NAME_BYTES) throw new GroupLimitError('group name bytes', MAX_GROUP_NAME_BYTES)
  if (m.admins.length === 0 || m.admins.length > MAX_GROUP_ADMINS) throw new GroupLimitError('admins', MAX_GROUP_ADMINS)
  const w = new Writer(8 + name.length + 32 * m.admins.length).u8(GROUP_FORMAT_VERSION).bytes(name).u32(m.admins.length)
  for (const a of m.admins) {
    if (a.length !== 32) throw new GroupInvalidMessageError('admin key length')
    w.fixed(a)
  }
  return w.finish()
}

/** Decodes metadata strictly (version, lengths, UTF-8, no trailing bytes, no duplicate admin). */
export function decodeGroupMetadata(bytes: Uint8Array): GroupMetadata {
  try {
    const r = new Reader(bytes, 'group metadata')
    const version = r.u8()
    if (version !== GROUP_FORMAT_VERSION) throw new GroupInvalidMessageError(`metadata version ${version}`)
    const name = fromUtf8.decode(r.bytes(MAX_GROUP_NAME_BYTES))
    const count = r.u32()
    if (count === 0 || count > MAX_GROUP_ADMINS) throw new GroupLimitError('admins', MAX_GROUP_ADMINS)
    const admins: Uint8Array[] = []
    for (let i = 0; i < count; i++) {
      const a = r.fixed(32)
      if (admins.some((b) => equalBytes(a, b))) throw new GroupInvalidMessageError('duplicate admin')
      admins.push(a)
    }
    r.end()
    return { name, admins }
  } catch (e) {
    if (e instanceof GroupInvalidMessageError || e instanceof GroupLimitError) throw e
    throw new GroupInvalidMessageError('metadata does not decode')
  }
}

/** The metadata as an MLS extension. */
export function metadataExtension(m: GroupMetadata): Extension {
  return { extensionType: GROUP_METADATA_EXTENSION, extensionData: encodeGroupMetadata(m) }
}

/** The metadata in a list of group context extensions; GroupInvalidMessageError when absent. */
export function metadataFrom(extensions: readonly Extension[]): GroupMetadata {
  const ext = extensions.find((e) => e.extensionType === GROUP_METADATA_EXTENSION)
  if (ext === undefined) throw new GroupInvalidMessageError('group has no Parley metadata')
  return decodeGroupMetadata(ext.extensionData)
}
