/**
 * Every format here carries `version` as field 1, written first. Decoders read it before anything else, so bytes of
 * a later version, whose other fields this build does not know, fail as UnknownVersionError rather than as an
 * unknown field: a caller can tell "upgrade needed" from "garbage".
 */
import { FORMAT_VERSION } from './constants.ts'
import { InvalidParameterError, OversizeError, UnknownVersionError } from './errors.ts'
import { decodeMessage, type Infer, type MessageSchema, readVarint, WIRE_VARINT } from './protobuf.ts'

/** The tag byte of field 1 as a varint: the first byte of every encoding in this package. */
const VERSION_TAG = (1 << 3) | WIRE_VARINT

/** The version field's spec, shared by every schema. */
export const VERSION_FIELD = { no: 1, name: 'version', type: { kind: 'uint' }, rule: 'required' } as const

/** Size check, then version check, then the strict decode of the rest. */
export function decodeVersioned<S extends MessageSchema>(schema: S, bytes: Uint8Array): Infer<S> {
  if (!(bytes instanceof Uint8Array)) throw new InvalidParameterError(schema.name, 'a Uint8Array')
  if (bytes.length > schema.maxBytes) throw new OversizeError(schema.name, 'message', bytes.length, schema.maxBytes)
  if (bytes.length > 0 && bytes[0] === VERSION_TAG) {
    const [version] = readVarint(bytes, 1, schema.name)
    if (version !== FORMAT_VERSION) throw new UnknownVersionError(schema.name, version)
  }
  return decodeMessage(schema, bytes)
}

/** Refuses a caller-supplied version other than ours (callers normally leave it out). */
export function checkVersion(format: string, version: number | undefined): void {
  if (version !== undefined && version !== FORMAT_VERSION) {
    throw new InvalidParameterError(`${format}.version`, `${FORMAT_VERSION} (the only version this build writes)`)
  }
}
