/**
 * Opening a CLI profile: a LevelDB directory encrypted at rest under a passphrase. The directory is private to its
 * owner (mode 0700): new ones are made so, and one that others can read or enter is refused, as ssh refuses a key
 * file others can read. Its contents (the store, the control socket) are then out of other users' reach from the
 * first instant, whatever their own modes are while they are being created.
 */
import { existsSync, statSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline/promises'
import { Writable } from 'node:stream'
import { NAMESPACES, type Namespace } from '@parley/messenger'
import { createProfileStore, openStore, type ProfileStore, resolvePassphrase } from '@parley/store'
import { CommandError } from './commands.ts'
import { EXIT_UNSAFE_PROFILE, PROFILE_DIR_FORBIDDEN_MODE, PROFILE_DIR_MODE } from './constants.ts'

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

/**
 * Refuses a profile directory that other users can read, write or enter, or that belongs to someone else (exit code
 * EXIT_UNSAFE_PROFILE). A directory that does not exist yet is fine: it is created with mode 0700.
 */
export function checkProfileDir(dir: string): void {
  let st: ReturnType<typeof statSync>
  try {
    st = statSync(dir)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return
    throw new CommandError(
      'ProfileDir',
      `cannot read the profile directory ${dir} (${(e as NodeJS.ErrnoException).code})`
    )
  }
  if (!st.isDirectory()) throw new CommandError('ProfileDir', `${dir} is not a directory (see --data)`)
  const uid = process.getuid?.()
  if (uid !== undefined && st.uid !== uid) {
    throw new CommandError(
      'UnsafeProfileDir',
      `the profile directory ${dir} belongs to another user (uid ${st.uid}): use a directory of your own (--data)`,
      EXIT_UNSAFE_PROFILE
    )
  }
  const mode = st.mode & 0o777
  if ((mode & PROFILE_DIR_FORBIDDEN_MODE) !== 0) {
    throw new CommandError(
      'UnsafeProfileDir',
      `the profile directory ${dir} is accessible by other users (mode ${mode.toString(8).padStart(4, '0')}): ` +
        `run 'chmod ${PROFILE_DIR_MODE.toString(8)} ${dir}'`,
      EXIT_UNSAFE_PROFILE
    )
  }
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
  await mkdir(dir, { recursive: true, mode: PROFILE_DIR_MODE })
  checkProfileDir(dir)
  const passphrase = await resolvePassphrase({
    ...(options.passphraseFile !== undefined && { file: options.passphraseFile }),
    prompt: () => prompt('Passphrase: ')
  })
  const backend = await openStore({ kind: 'level', path: storePath(dir) }).catch((e: unknown) => {
    throw inUse(e, dir)
  })
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

/** The store's lock: another process (a running `parley run`, usually) holds this profile. */
function inUse(e: unknown, dir: string): unknown {
  if ((e as { code?: unknown }).code !== 'StoreLocked') return e
  return new CommandError(
    'ProfileInUse',
    `the profile at ${dir} is in use by another parley process: stop it, or use one-shot commands while it runs`
  )
}
