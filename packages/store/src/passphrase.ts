/** Passphrase sources shared by both entry points: an explicit string, then an interactive prompt. */
import { InvalidParameterError, PassphraseRequiredError } from './errors.ts'
import type { AbortOptions } from './kdf.ts'

/** Asks the user; receives the caller's signal so a UI can dismiss itself on abort. */
export type PassphrasePrompt = (options: AbortOptions) => Promise<string>

/** Sources every runtime has. */
export interface BasePassphraseOptions extends AbortOptions {
  /** A passphrase the caller already holds (a UI field). Used first when non-empty. */
  passphrase?: string
  /** Asked last, only when no other source gave a passphrase. */
  prompt?: PassphrasePrompt
}

/** Tries `passphrase`, then `prompt`; `tried` names the sources already tried by the caller, for the error. */
export async function passphraseFromStringOrPrompt(options: BasePassphraseOptions, tried: string[]): Promise<string> {
  const { passphrase, prompt, signal } = options
  signal?.throwIfAborted()
  if (passphrase !== undefined && typeof passphrase !== 'string')
    throw new InvalidParameterError('passphrase', 'a string')
  if (passphrase !== undefined && passphrase.length > 0) return passphrase
  if (passphrase !== undefined) tried.push('passphrase (empty)')
  if (prompt !== undefined) {
    const answer = await prompt({ signal })
    signal?.throwIfAborted()
    if (typeof answer !== 'string') throw new InvalidParameterError('prompt', 'a function resolving to a string')
    if (answer.length > 0) return answer
    tried.push('prompt (empty answer)')
  }
  throw new PassphraseRequiredError(tried.length > 0 ? tried.join(', ') : 'no source given')
}
