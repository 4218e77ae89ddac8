/**
 * A small strict binary codec for every format this package owns: fixed-width big-endian integers,
 * fixed-length byte fields and u32-length-prefixed byte fields. Decoding checks every bound and refuses
 * trailing bytes, so each encoding has exactly one byte form (fixed vectors pin it).
 */
import { fromString as uint8ArrayFromString, toString as uint8ArrayToString } from 'uint8arrays'
import { MalformedError } from './errors.ts'

// Scratch buffers reused across writers: every encoding ends in finish(), which copies out and returns the buffer.
const SCRATCH_BYTES = 16 * 1024
const scratch: Uint8Array[] = []

/** Appends fields to a growing buffer; finish() returns an exact-size copy. */
export class Writer {
  private buf: Uint8Array
  private view: DataView
  private pos = 0

  constructor(initial = 256) {
    const reused = initial <= SCRATCH_BYTES ? scratch.pop() : undefined
    this.buf = reused ?? new Uint8Array(Math.max(initial, SCRATCH_BYTES))
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength)
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < this.pos + n) size *= 2
    const next = new Uint8Array(size)
    next.set(this.buf.subarray(0, this.pos))
    this.buf.fill(0, 0, this.pos)
    this.buf = next
    this.view = new DataView(next.buffer)
  }

  u8(v: number): this {
    this.ensure(1)
    this.buf[this.pos++] = v
    return this
  }

  u32(v: number): this {
    this.ensure(4)
    this.view.setUint32(this.pos, v)
    this.pos += 4
    return this
  }

  /** An unsigned integer up to 2^53 - 1 (milliseconds, sequence numbers) as 8 bytes. */
  u64(v: number): this {
    this.ensure(8)
    this.view.setBigUint64(this.pos, BigInt(v))
    this.pos += 8
    return this
  }

  bool(v: boolean): this {
    return this.u8(v ? 1 : 0)
  }

  /** Raw bytes of a length both sides know. */
  fixed(bytes: Uint8Array): this {
    this.ensure(bytes.length)
    this.buf.set(bytes, this.pos)
    this.pos += bytes.length
    return this
  }

  /** u32 length, then whatever `write` appends (encodes a nested structure in place, without a copy). */
  nested(write: (w: this) => void): this {
    this.ensure(4)
    const at = this.pos
    this.pos += 4
    write(this)
    this.view.setUint32(at, this.pos - at - 4)
    return this
  }

  /** u32 length, then the bytes. */
  bytes(bytes: Uint8Array): this {
    this.u32(bytes.length)
    return this.fixed(bytes)
  }

  /** A presence byte, then the value when present. */
  optional<T>(value: T | undefined | null, write: (w: this, v: T) => void): this {
    if (value === undefined || value === null) return this.u8(0)
    this.u8(1)
    write(this, value)
    return this
  }

  /** The bytes written, as a new array; the writer must not be used afterwards. */
  finish(): Uint8Array {
    const out = this.buf.slice(0, this.pos)
    // Encodings include secret keys: wipe before the buffer is reused or dropped.
    this.buf.fill(0, 0, this.pos)
    if (this.buf.length === SCRATCH_BYTES && scratch.length < 8) scratch.push(this.buf)
    this.pos = 0
    return out
  }
}

/** Reads fields with bounds checks; every failure is a MalformedError naming `what`. */
export class Reader {
  private readonly buf: Uint8Array
  private readonly what: string
  private readonly view: DataView
  private pos = 0

  constructor(buf: Uint8Array, what: string) {
    this.buf = buf
    this.what = what
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  }

  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new MalformedError(this.what, 'truncated')
  }

  get remaining(): number {
    return this.buf.length - this.pos
  }

  get offset(): number {
    return this.pos
  }

  u8(): number {
    this.need(1)
    return this.buf[this.pos++]!
  }

  u32(): number {
    this.need(4)
    const v = this.view.getUint32(this.pos)
    this.pos += 4
    return v
  }

  u64(): number {
    this.need(8)
    const v = this.view.getBigUint64(this.pos)
    this.pos += 8
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new MalformedError(this.what, 'integer out of range')
    return Number(v)
  }

  bool(): boolean {
    const v = this.u8()
    if (v > 1) throw new MalformedError(this.what, 'bad boolean')
    return v === 1
  }

  /** `n` bytes, copied so the result never aliases the input buffer. */
  fixed(n: number): Uint8Array {
    this.need(n)
    const out = this.buf.slice(this.pos, this.pos + n)
    this.pos += n
    return out
  }

  /** u32-length-prefixed bytes, at most `max` long. */
  bytes(max: number): Uint8Array {
    const n = this.u32()
    if (n > max) throw new MalformedError(this.what, `field of ${n} bytes exceeds ${max}`)
    return this.fixed(n)
  }

  optional<T>(read: (r: this) => T): T | undefined {
    const flag = this.u8()
    if (flag === 0) return undefined
    if (flag !== 1) throw new MalformedError(this.what, 'bad presence flag')
    return read(this)
  }

  /** Everything left. */
  rest(): Uint8Array {
    return this.fixed(this.remaining)
  }

  /** Refuses trailing bytes. */
  end(): void {
    if (this.pos !== this.buf.length)
      throw new MalformedError(this.what, `${this.buf.length - this.pos} trailing bytes`)
  }
}

/** Constant-time equality for equal-length inputs (lengths are public). */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  let d = 0
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!
  return d === 0
}

/** Lower-case hex. */
export function toHex(bytes: Uint8Array): string {
  return uint8ArrayToString(bytes, 'base16')
}

/**
 * Parses lower- or upper-case hex; MalformedError on odd length or bad digits. The check comes first because the
 * base16 decoder alone would also take trailing `=` padding.
 */
export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
    throw new MalformedError('hex', 'not hex')
  }
  return uint8ArrayFromString(hex.toLowerCase(), 'base16')
}

const utf8 = new TextEncoder()
/** UTF-8 bytes of a string constant (info strings, contexts). */
export function text(s: string): Uint8Array {
  return utf8.encode(s)
}
