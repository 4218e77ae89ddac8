/** Opening a CLI profile: a LevelDB directory encrypted at rest under a passphrase. */
import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline/promises'
import { Writable } from 'node:stream'
import { NAMESPACES, type Namespace } from '@parley/messenger'
import { createProfileStore, openStore, type ProfileStore, resolvePassphrase } from '@parley/store'
import { CommandError } from './commands.ts'

export interface ProfileOptions {
  data?: string
  passphraseFile?: string
}

/** The profile directory: --data, else $PARLEY_DATA, else ~/.parley. */
export function dataDir(options: ProfileOptions): string {
  return resolve(options.data ?? process.env.PARLEY_DATA ?? join(homedir(), '.parley'))
}

export function storePath(dir: string): string {
  return join(dir, 'profile')
}

export function controlSocketPath(dir: string): string {
  return join(dir, 'control.sock')
}

export function profileExists(dir: string): boolean {
  return existsSync(storePath(dir))
}

/** Asks for the passphrase on the terminal without echoing it. */
async function prompt(question: string): Promise<string> {
  if (!process.stdin.isTTY) {
    throw new CommandError('PassphraseRequired', 'no passphrase: set PARLEY_PASSPHRASE or pass --passphrase-file')
  }
  let muted = false
  const output = new Writable({
    write(chunk, _enc, done) {
      if (!muted) process.stderr.write(chunk)
      done()
    }
  })
  const rl = createInterface({ input: process.stdin, output, terminal: true })
  try {
    const pending = rl.question(question)
    muted = true
    const answer = await pending
    process.stderr.write('\n')
    return answer
  } finally {
    rl.close()
  }
}

/** Opens (or with `create`, creates) the encrypted profile of `dir`. */
export async function openProfile(
  dir: string,
  options: ProfileOptions & { create?: boolean }
): Promise<ProfileStore<Namespace>> {
  if (!options.create && !profileExists(dir)) {
    throw new CommandError('NoProfile', `no profile at ${dir}: run 'parley init' first (or pass --data <dir>)`)
  }
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const passphrase = await resolvePassphrase({
    ...(options.passphraseFile !== undefined && { file: options.passphraseFile }),
    prompt: () => prompt('Passphrase: ')
  })
  const backend = await openStore({ kind: 'level', path: storePath(dir) })
  try {
    return await createProfileStore(backend, passphrase, {
      namespaces: NAMESPACES,
      create: options.create ?? false,
      ...(process.env.PARLEY_UNSAFE_FAST_KDF === '1' && { unsafeFastKdfForTests: true })
    })
  } catch (e) {
    await backend.close()
    throw e
  }
}
