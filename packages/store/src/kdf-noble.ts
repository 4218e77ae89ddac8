/** scrypt from @noble/hashes, for browsers (WebCrypto has no scrypt). Yields to the event loop while it runs. */
import { scryptAsync } from '@noble/hashes/scrypt.js'
import { type ScryptFunction, scryptMaxmem } from './kdf.ts'

/** scrypt on @noble/hashes. Aborts between chunks: the progress callback throws the signal's reason. */
export const nobleScrypt: ScryptFunction = async (password, salt, params, dkLen, options = {}) => {
  const signal = options.signal
  signal?.throwIfAborted()
  const { logN, r, p } = params
  return scryptAsync(password, salt, {
    N: 2 ** logN,
    r,
    p,
    dkLen,
    maxmem: scryptMaxmem(params),
    onProgress: () => signal?.throwIfAborted()
  })
}
