/** Node passphrase sources: a file (for services), an environment variable (for scripts), then the shared ones. */
import { open } from 'node:fs/promises'
import { DEFAULT_PASSPHRASE_ENV, MAX_PASSPHRASE_FILE_BYTES } from './constants.ts'
import { InvalidParameterError, RecordTooLargeError } from './errors.ts'
import { type BasePassphraseOptions, passphraseFromStringOrPrompt } from './passphrase.ts'

/** Where Node looks for the passphrase. */
export interface ResolvePassphraseOptions extends BasePassphraseOptions {
  /** A file holding the passphrase (one trailing newline is dropped). Named explicitly, so it must be readable. */
  file?: string
  /** Environment variable to read (default PARLEY_PASSPHRASE); `false` skips the environment. An empty one is unset. */
  env?: string | false
}

async function readPassphraseFile(path: string): Promise<string> {
  let bytes: Uint8Array
  let handle: Awaited<ReturnType<typeof open>> | undefined
  try {
    handle = await open(path, 'r')
    const { size } = await handle.stat()
    if (size > MAX_PASSPHRASE_FILE_BYTES)
      throw new RecordTooLargeError('passphrase file', size, MAX_PASSPHRASE_FILE_BYTES)
    bytes = await handle.readFile()
  } catch (err) {
    if (err instanceof RecordTooLargeError) throw err
    const code = (err as { code?: unknown }).code
    throw new InvalidParameterError(
      'file',
      `a readable passphrase file (${typeof code === 'string' ? code : 'read failed'})`
    )
  } finally {
    await handle?.close()
  }
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    throw new InvalidParameterError('file', 'UTF-8 text')
  }
  // Editors and `echo` add one newline; anything else (spaces, further lines) is part of the passphrase.
  return text.replace(/\r?\n$/, '')
}

/**
 * Finds the passphrase: `passphrase`, then `file`, then the environment variable, then `prompt`. Throws
 * PassphraseRequiredError when none gives a non-empty passphrase. An explicitly named file that cannot be read is an
 * InvalidParameterError, not a silent fall-through to the next source.
 */
export async function resolvePassphrase(options: ResolvePassphraseOptions = {}): Promise<string> {
  const { passphrase, file, env, prompt, signal } = options
  const tried: string[] = []
  signal?.throwIfAborted()
  if (passphrase !== undefined && typeof passphrase !== 'string')
    throw new InvalidParameterError('passphrase', 'a string')
  if (passphrase !== undefined && passphrase.length > 0) return passphrase
  if (passphrase !== undefined) tried.push('passphrase (empty)')
  if (file !== undefined) {
    const fromFile = await readPassphraseFile(file)
    if (fromFile.length > 0) return fromFile
    tried.push('file (empty)')
  }
  if (env !== false) {
    const name = env ?? DEFAULT_PASSPHRASE_ENV
    const fromEnv = process.env[name]
    if (fromEnv !== undefined && fromEnv.length > 0) return fromEnv
    tried.push(`environment variable ${name}`)
  }
  return passphraseFromStringOrPrompt(prompt === undefined ? { signal } : { prompt, signal }, tried)
}
