/** The ciphersuite implementation and leaf capabilities every Parley group uses. */
import {
  type Capabilities,
  type CiphersuiteImpl,
  defaultCapabilities,
  getCiphersuiteFromName,
  getCiphersuiteImpl
} from 'ts-mls'
import { GROUP_CIPHERSUITE, GROUP_METADATA_EXTENSION } from './constants.ts'

let suite: Promise<CiphersuiteImpl> | undefined

/** The X-Wing ciphersuite implementation (made once per process). */
export function groupSuite(): Promise<CiphersuiteImpl> {
  suite ??= getCiphersuiteImpl(getCiphersuiteFromName(GROUP_CIPHERSUITE))
  return suite
}

/** Leaf capabilities: our ciphersuite only, and the Parley metadata extension (so a commit may carry it). */
export function parleyCapabilities(): Capabilities {
  const d = defaultCapabilities()
  return {
    ...d,
    ciphersuites: [GROUP_CIPHERSUITE],
    extensions: [...d.extensions.filter((e) => e !== GROUP_METADATA_EXTENSION), GROUP_METADATA_EXTENSION]
  }
}
