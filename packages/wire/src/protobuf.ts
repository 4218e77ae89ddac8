/**
 * A strict protobuf codec for fixed schemas written as TypeScript objects.
 *
 * The byte form is ordinary protobuf (varint and length-delimited wire types, proto3 field semantics), so any
 * protobuf implementation can read what we write from a matching `.proto`. Our decoder is stricter than protobuf's:
 * it accepts exactly one byte form per value, the one our encoder writes, and refuses everything else with a typed
 * error: unknown field numbers, wrong wire types, duplicated non-repeated fields, fields out of ascending order,
 * missing required fields, non-minimal or over-long varints, integers above 2^53 - 1, invalid UTF-8, fields or
 * messages over their limits, and anything that does not parse to the end (truncation, trailing garbage).
 *
 * We write our own instead of using protons because its generated code uses enums and namespaces, which Node's type
 * stripping cannot run, and because protobuf decoders are lenient by design (unknown fields kept, last duplicate
 * wins, any field order) where every format here must have a single byte form.
 */
import {
  DuplicateFieldError,
  InvalidParameterError,
  InvalidUtf8Error,
  InvalidValueError,
  InvalidVarintError,
  MissingFieldError,
  NonCanonicalError,
  OversizeError,
  TruncatedError,
  UnknownFieldError,
  WrongWireTypeError
} from './errors.ts'

/** Protobuf wire type of varint fields (uint, bool, enum). */
export const WIRE_VARINT = 0
/** Protobuf wire type of length-delimited fields (bytes, string, embedded message). */
export const WIRE_LEN = 2
/** Largest protobuf field number. */
export const MAX_FIELD_NUMBER = 2 ** 29 - 1
/** Longest varint protobuf allows. */
export const MAX_VARINT_BYTES = 10

/** An unsigned integer in 0..2^53 - 1 (protobuf `uint64` restricted to what a JS number holds exactly). */
export interface UintType {
  readonly kind: 'uint'
}
/** `bool`: a varint that must be 0 or 1. */
export interface BoolType {
  readonly kind: 'bool'
}
/** An enum: names on our side, the given numbers on the wire; an unknown number is refused. */
export interface EnumType<V extends string = string> {
  readonly kind: 'enum'
  readonly values: Readonly<Record<V, number>>
}
/** `bytes`: exactly `length` bytes when set, else `minLength`..`maxLength`. */
export interface BytesType {
  readonly kind: 'bytes'
  readonly length?: number
  readonly minLength?: number
  readonly maxLength: number
}
/** A `bytes` field of exactly `length` bytes (keys, signatures, ids, tokens). */
export function fixedBytes(length: number): BytesType {
  return { kind: 'bytes', length, maxLength: length }
}

/** `string`: well-formed UTF-8 of `minLength`..`maxLength` bytes. */
export interface StringType {
  readonly kind: 'string'
  readonly minLength?: number
  readonly maxLength: number
}
/** An embedded message of at most `maxLength` bytes. */
export interface MessageType<S extends MessageSchema = MessageSchema> {
  readonly kind: 'message'
  readonly schema: S
  readonly maxLength: number
}

export type FieldType = UintType | BoolType | EnumType | BytesType | StringType | MessageType

/** One field: its number, our name for it, its type and whether it is required, optional or repeated. */
export interface FieldSpec {
  readonly no: number
  readonly name: string
  readonly type: FieldType
  readonly rule: 'required' | 'optional' | 'repeated'
  /** Most occurrences of a repeated field. */
  readonly maxCount?: number
}

/** A message: its name (used in errors), its fields in ascending number order and its size limit in bytes. */
export interface MessageSchema {
  readonly name: string
  readonly fields: readonly FieldSpec[]
  readonly maxBytes: number
}

/** The TypeScript value of one field type. */
export type ValueOf<T extends FieldType> = T extends UintType
  ? number
  : T extends BoolType
    ? boolean
    : T extends EnumType<infer V>
      ? V
      : T extends BytesType
        ? Uint8Array
        : T extends StringType
          ? string
          : T extends MessageType<infer S>
            ? Infer<S>
            : never

/** The TypeScript value of a message schema: required fields as values, optional ones `| undefined`, repeated ones arrays. */
export type Infer<S extends MessageSchema> = {
  -readonly [F in S['fields'][number] as F['name']]: F['rule'] extends 'repeated'
    ? readonly ValueOf<F['type']>[]
    : F['rule'] extends 'optional'
      ? ValueOf<F['type']> | undefined
      : ValueOf<F['type']>
}

/** Builds a schema, checking once (at module load) that field numbers ascend and names are unique. */
export function defineSchema<const S extends MessageSchema>(schema: S): S {
  let last = 0
  const names = new Set<string>()
  for (const f of schema.fields) {
    if (!Number.isInteger(f.no) || f.no <= last || f.no > MAX_FIELD_NUMBER) {
      throw new InvalidParameterError(`${schema.name}.${f.name}`, 'field numbers in ascending order')
    }
    if (names.has(f.name)) throw new InvalidParameterError(`${schema.name}.${f.name}`, 'a unique field name')
    if (f.rule === 'repeated' && f.maxCount === undefined) {
      throw new InvalidParameterError(`${schema.name}.${f.name}`, 'a maxCount on a repeated field')
    }
    last = f.no
    names.add(f.name)
  }
  return schema
}

function wireTypeOf(t: FieldType): number {
  return t.kind === 'uint' || t.kind === 'bool' || t.kind === 'enum' ? WIRE_VARINT : WIRE_LEN
}

// ---- encoding ----

const utf8Encoder = new TextEncoder()
// fatal: invalid UTF-8 throws instead of becoming U+FFFD; ignoreBOM: a leading U+FEFF is content, not a marker to drop.
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** Byte length of `v` as a varint. */
export function varintLength(v: number): number {
  let n = 1
  while (v >= 128) {
    v = Math.floor(v / 128)
    n++
  }
  return n
}

class Out {
  readonly parts: Uint8Array[] = []
  length = 0

  varint(v: number): void {
    const b = new Uint8Array(varintLength(v))
    let i = 0
    while (v >= 128) {
      b[i++] = (v % 128) | 0x80
      v = Math.floor(v / 128)
    }
    b[i] = v
    this.push(b)
  }

  push(b: Uint8Array): void {
    this.parts.push(b)
    this.length += b.length
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.length)
    let o = 0
    for (const p of this.parts) {
      out.set(p, o)
      o += p.length
    }
    return out
  }
}

/** Encodes a protobuf varint (0..2^53 - 1). */
export function encodeVarint(v: number): Uint8Array {
  if (!Number.isSafeInteger(v) || v < 0) throw new InvalidParameterError('varint', 'an integer in 0..2^53 - 1')
  const out = new Out()
  out.varint(v)
  return out.finish()
}

function checkLength(path: string, n: number, t: BytesType | StringType): void {
  if (t.kind === 'bytes' && t.length !== undefined) {
    if (n !== t.length) throw new InvalidParameterError(path, `${t.length} bytes`)
    return
  }
  if (n < (t.minLength ?? 0) || n > t.maxLength) {
    throw new InvalidParameterError(path, `${t.minLength ?? 0}..${t.maxLength} bytes`)
  }
}

function encodeValue(out: Out, path: string, t: FieldType, v: unknown): void {
  switch (t.kind) {
    case 'uint':
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
        throw new InvalidParameterError(path, 'an integer in 0..2^53 - 1')
      }
      out.varint(v)
      return
    case 'bool':
      if (typeof v !== 'boolean') throw new InvalidParameterError(path, 'a boolean')
      out.varint(v ? 1 : 0)
      return
    case 'enum': {
      const n = typeof v === 'string' && Object.hasOwn(t.values, v) ? t.values[v] : undefined
      if (n === undefined) throw new InvalidParameterError(path, `one of ${Object.keys(t.values).join(', ')}`)
      out.varint(n)
      return
    }
    case 'bytes':
      if (!(v instanceof Uint8Array)) throw new InvalidParameterError(path, 'a Uint8Array')
      checkLength(path, v.length, t)
      out.varint(v.length)
      // finish() copies every part into the result, so the caller's array is never aliased.
      out.push(v)
      return
    case 'string': {
      // A lone surrogate would silently become U+FFFD: refuse it so decode(encode(s)) === s.
      if (typeof v !== 'string' || !v.isWellFormed()) throw new InvalidParameterError(path, 'a well-formed string')
      const b = utf8Encoder.encode(v)
      checkLength(path, b.length, t)
      out.varint(b.length)
      out.push(b)
      return
    }
    case 'message': {
      const b = encodeMessage(t.schema, v as Infer<MessageSchema>, path)
      if (b.length > t.maxLength) throw new InvalidParameterError(path, `at most ${t.maxLength} bytes`)
      out.varint(b.length)
      out.push(b)
      return
    }
  }
}

/**
 * Encodes `value` in canonical form: fields in ascending number order, absent optional fields omitted, required
 * fields always written (even when zero or empty). InvalidParameterError when a value breaks the schema.
 */
export function encodeMessage<S extends MessageSchema>(
  schema: S,
  value: Infer<S>,
  path: string = schema.name
): Uint8Array {
  if (typeof value !== 'object' || value === null) throw new InvalidParameterError(path, 'an object')
  const record = value as Record<string, unknown>
  const out = new Out()
  for (const f of schema.fields) {
    const v = record[f.name]
    const fieldPath = `${path}.${f.name}`
    const tag = f.no * 8 + wireTypeOf(f.type)
    if (f.rule === 'repeated') {
      if (!Array.isArray(v)) throw new InvalidParameterError(fieldPath, 'an array')
      if (v.length > f.maxCount!) throw new InvalidParameterError(fieldPath, `at most ${f.maxCount} entries`)
      for (const item of v) {
        out.varint(tag)
        encodeValue(out, fieldPath, f.type, item)
      }
    } else if (v === undefined) {
      if (f.rule === 'required') throw new InvalidParameterError(fieldPath, 'a value (required)')
    } else {
      out.varint(tag)
      encodeValue(out, fieldPath, f.type, v)
    }
  }
  if (out.length > schema.maxBytes) throw new InvalidParameterError(path, `at most ${schema.maxBytes} bytes encoded`)
  return out.finish()
}

// ---- decoding ----

/** Reads one varint at `pos` of `buf`; returns the value and the position after it. */
export function readVarint(buf: Uint8Array, pos: number, format: string): [value: number, next: number] {
  let value = 0
  let scale = 1
  for (let i = 0; i < MAX_VARINT_BYTES; i++) {
    if (pos >= buf.length) throw new TruncatedError(format)
    const b = buf[pos++]!
    // Each term has at most 7 significant bits, so the sum is exact up to 2^53 and monotone past it.
    value += (b & 0x7f) * scale
    if ((b & 0x80) === 0) {
      if (b === 0 && i > 0) throw new InvalidVarintError(format, 'varint not minimally encoded')
      if (value > Number.MAX_SAFE_INTEGER) throw new InvalidVarintError(format, 'varint above 2^53 - 1')
      return [value, pos]
    }
    scale *= 128
  }
  throw new InvalidVarintError(format, `varint longer than ${MAX_VARINT_BYTES} bytes`)
}

function decodeVarintValue(format: string, f: FieldSpec, v: number): unknown {
  const t = f.type
  if (t.kind === 'bool') {
    if (v > 1) throw new InvalidValueError(format, f.name, 'boolean other than 0 or 1')
    return v === 1
  }
  if (t.kind === 'enum') {
    for (const [name, n] of Object.entries(t.values)) if (n === v) return name
    throw new InvalidValueError(format, f.name, `unknown enum value ${v}`)
  }
  return v
}

function decodeLenValue(format: string, f: FieldSpec, b: Uint8Array): unknown {
  const t = f.type
  if (t.kind === 'message') return decodeFields(t.schema, b, `${format}.${f.name}`)
  if (t.kind === 'bytes') {
    if (t.length !== undefined && b.length !== t.length) {
      throw new InvalidValueError(format, f.name, `${b.length} bytes, expected ${t.length}`)
    }
    if (b.length < (t.minLength ?? 0)) throw new InvalidValueError(format, f.name, `shorter than ${t.minLength} bytes`)
    // new Uint8Array(view) copies into a plain Uint8Array; a Node Buffer's slice() would return a view instead.
    return new Uint8Array(b)
  }
  if (t.kind === 'string') {
    if (b.length < (t.minLength ?? 0)) throw new InvalidValueError(format, f.name, `shorter than ${t.minLength} bytes`)
    try {
      return utf8Decoder.decode(b)
    } catch {
      throw new InvalidUtf8Error(format, f.name)
    }
  }
  return undefined
}

function maxLengthOf(t: FieldType): number {
  if (t.kind === 'bytes') return t.length ?? t.maxLength
  if (t.kind === 'string' || t.kind === 'message') return t.maxLength
  return 0
}

function decodeFields(schema: MessageSchema, buf: Uint8Array, format: string): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const f of schema.fields) if (f.rule === 'repeated') out[f.name] = []
  let pos = 0
  let last = 0
  let index = 0
  while (pos < buf.length) {
    let tag: number
    ;[tag, pos] = readVarint(buf, pos, format)
    const no = Math.floor(tag / 8)
    const wireType = tag % 8
    // Fields are in ascending order, so the next spec is found by walking forward; a lower number is out of order.
    let spec: FieldSpec | undefined
    for (let i = index; i < schema.fields.length; i++) {
      if (schema.fields[i]!.no === no) {
        spec = schema.fields[i]
        index = i
        break
      }
    }
    if (spec === undefined) {
      const earlier = schema.fields.find((f) => f.no === no)
      if (earlier === undefined) throw new UnknownFieldError(format, no)
      if (earlier.rule !== 'repeated' && out[earlier.name] !== undefined) {
        throw new DuplicateFieldError(format, earlier.name)
      }
      throw new NonCanonicalError(format, `field ${no} after field ${last}`)
    }
    if (wireType !== wireTypeOf(spec.type)) throw new WrongWireTypeError(format, spec.name, wireType)
    if (no === last && spec.rule !== 'repeated') throw new DuplicateFieldError(format, spec.name)
    last = no
    let value: unknown
    if (wireType === WIRE_VARINT) {
      let v: number
      ;[v, pos] = readVarint(buf, pos, format)
      value = decodeVarintValue(format, spec, v)
    } else {
      let n: number
      ;[n, pos] = readVarint(buf, pos, format)
      const max = maxLengthOf(spec.type)
      if (n > max) throw new OversizeError(format, spec.name, n, max)
      if (n > buf.length - pos) throw new TruncatedError(format)
      value = decodeLenValue(format, spec, buf.subarray(pos, pos + n))
      pos += n
    }
    if (spec.rule === 'repeated') {
      const list = out[spec.name] as unknown[]
      if (list.length >= spec.maxCount!) throw new OversizeError(format, spec.name, list.length + 1, spec.maxCount!)
      list.push(value)
    } else {
      out[spec.name] = value
    }
  }
  for (const f of schema.fields) {
    if (f.rule === 'required' && out[f.name] === undefined) throw new MissingFieldError(format, f.name)
  }
  return out
}

/**
 * Decodes `bytes` as `schema`, refusing anything but the canonical form our encoder writes. Every failure is a
 * `MalformedError` subclass naming `schema.name`; the result's byte fields are copies, never views of `bytes`.
 */
export function decodeMessage<S extends MessageSchema>(schema: S, bytes: Uint8Array): Infer<S> {
  if (!(bytes instanceof Uint8Array)) throw new InvalidParameterError(schema.name, 'a Uint8Array')
  if (bytes.length > schema.maxBytes) throw new OversizeError(schema.name, 'message', bytes.length, schema.maxBytes)
  return decodeFields(schema, bytes, schema.name) as Infer<S>
}
