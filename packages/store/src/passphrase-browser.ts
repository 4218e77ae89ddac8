/** Browser passphrase sources: a string the UI already holds, then a prompt. No files, no environment. */
import { InvalidParameterError } from './errors.ts'
import { type BasePassphraseOptions, passphraseFromStringOrPrompt } from './passphrase.ts'

/**
 * Finds the passphrase: `passphrase`, then `prompt`. Throws PassphraseRequiredError when neither gives one, and
 * InvalidParameterError for `file` or `env` (Node-only sources), so code written for Node fails loudly here.
 */
export async function resolvePassphrase(options: BasePassphraseOptions = {}): Promise<string> {
  const extra = options as { file?: unknown; env?: unknown }
  if (extra.file !== undefined) throw new InvalidParameterError('file', 'nothing: files are read in Node only')
  if (extra.env !== undefined && extra.env !== false) {
    throw new InvalidParameterError('env', 'nothing: environment variables are read in Node only')
  }
  return passphraseFromStringOrPrompt(options, [])
}
