import { InvalidKeyError, InvalidParameterError } from '../errors.ts'

/** Throws InvalidParameterError unless `value` is a Uint8Array of exactly `length` bytes. */
export function expectBytes(parameter: string, value: unknown, length?: number): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new InvalidParameterError(parameter, 'a Uint8Array')
  if (length !== undefined && value.length !== length) throw new InvalidParameterError(parameter, `${length} bytes`)
}

/** True when every byte is zero; constant time in the length. */
export function isAllZero(bytes: Uint8Array): boolean {
  let acc = 0
  for (let i = 0; i < bytes.length; i++) acc |= bytes[i]!
  return acc === 0
}

/** Refuses an all-zero X25519 output: the peer's public key had low order (non-contributory DH). */
export function checkContributory(shared: Uint8Array): Uint8Array {
  if (isAllZero(shared)) throw new InvalidKeyError('x25519 public key', 'low-order point (all-zero shared secret)')
  return shared
}
