/** scrypt from node:crypto: OpenSSL, off the main thread on libuv's pool. Node entry only. */
import { scrypt } from 'node:crypto'
import { type ScryptFunction, scryptMaxmem } from './kdf.ts'

/** scrypt on node:crypto. Cannot be interrupted once started; the signal is checked before and after. */
export const nodeScrypt: ScryptFunction = async (password, salt, params, dkLen, options = {}) => {
  options.signal?.throwIfAborted()
  const { logN, r, p } = params
  const key = await new Promise<Buffer>((resolve, reject) => {
    scrypt(password, salt, dkLen, { N: 2 ** logN, r, p, maxmem: scryptMaxmem(params) }, (err, derived) =>
      err == null ? resolve(derived) : reject(err)
    )
  })
  const out = new Uint8Array(key)
  key.fill(0)
  options.signal?.throwIfAborted()
  return out
}
