/**
 * The build's dependency swaps (build/slim.ts): kad-dht's refresh gets keys in the bucket it asks for (checked as
 * kad-dht builds the prefix, and against the keys of its own Node table), jsQR's Shift JIS table gives what the
 * original did (every code a Kanji segment can hold, and a Kanji QR code decoded by the swapped jsQR as by the original), and the `mlkem` stand-in (against `mlkem` itself).
 */
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { KAD_PREFIX_BITS, kadPrefixOfKey, keyPrefixInBucket } from '../build/kad-prefixes.ts'
import { MlKem768, shake256 } from '../build/mlkem.ts'
import { JSQR_TABLE_SHIM, slimDependencies } from '../build/slim.ts'

const require = createRequire(import.meta.url)
const networkRequire = createRequire(join(dirname(require.resolve('@parley/messenger')), '..', 'package.json'))
const kadRequire = createRequire(networkRequire.resolve('@parley/network'))
const kadTablePath = join(dirname(kadRequire.resolve('@libp2p/kad-dht')), 'routing-table', 'generated-prefix-list.js')
const cryptoRequire = createRequire(require.resolve('@parley/crypto'))
const xwingRequire = createRequire(cryptoRequire.resolve('@hpke/hybridkem-x-wing'))
const realMlkem = xwingRequire('mlkem') as {
  MlKem768: new () => MlKem768
  shake256: typeof shake256
}
const jsqrPath = require.resolve('jsqr')
const jsqrSource = readFileSync(jsqrPath, 'utf8')

const keyOf = (n: number) => {
  const b = Buffer.alloc(34)
  b[0] = 0x12
  b[1] = 0x20
  b.writeUInt32BE(n, 2)
  return b
}

type Ctx = { error(m: string): never }
const ctx: Ctx = {
  error(m: string): never {
    throw new Error(m)
  }
}
const plugin = slimDependencies()
const transform = (code: string, id: string) =>
  (plugin.transform as unknown as (this: Ctx, c: string, i: string) => { code: string } | null).call(ctx, code, id)

type JsQr = (d: Uint8ClampedArray, w: number, h: number) => { data: string } | null
const loadJsqr = (code: string): JsQr => {
  const m = { exports: {} as { default?: JsQr } & JsQr }
  new Function('module', 'exports', code)(m, m.exports)
  return m.exports.default ?? m.exports
}

describe('kad-dht refresh keys searched instead of looked up', () => {
  it('hashes a key exactly as SHA-256 does', () => {
    for (const n of [0, 1, 0xffff, 0x10000, 77591, 753014, 0x7fffffff, 0xffffffff]) {
      expect(kadPrefixOfKey(n)).toBe(createHash('sha256').update(keyOf(n)).digest().readUInt16BE(0))
    }
  })

  it("finds, from 0, the smallest key of each prefix: the entries of kad-dht's Node table", async () => {
    const { default: nodeTable } = (await import(kadTablePath)) as { default: number[] }
    for (const p of [0, 1, 2, 777, 0x8000, 40000, 0xfffe, 0xffff]) {
      expect(keyPrefixInBucket(p, KAD_PREFIX_BITS, 0)).toBe(nodeTable[p])
    }
  })

  it('gives a random key with exactly the common prefix length the refresh wants, for every length 0..15', () => {
    const cpl = (a: number, b: number) => Math.clz32((a ^ b) & 0xffff) - 16
    for (let round = 0; round < 20; round++) {
      const local = (round * 40503) & 0xffff
      for (let t = 0; t <= 15; t++) {
        // As kad-dht's _makePeerId builds the prefix it asks for.
        const toggled = local ^ (0x8000 >> t)
        const mask = (65535 << (16 - (t + 1))) & 0xffff
        const target = (toggled & mask) | ((round * 7919) & 0xffff & ~mask)
        const n = keyPrefixInBucket(target, t + 1)
        expect(Math.min(cpl(kadPrefixOfKey(n), local), 16)).toBe(t)
      }
    }
    const keys = new Set(Array.from({ length: 8 }, () => keyPrefixInBucket(0x8000, 1)))
    expect(keys.size).toBeGreaterThan(1)
  })

  it("rewrites refresh.js's table lookup and nothing else", () => {
    const refresh = join(dirname(kadTablePath), 'refresh.js')
    const source = readFileSync(refresh, 'utf8')
    const out = transform(source, refresh)!.code
    expect(out).not.toContain('generated-prefix-list')
    expect(out).toContain('keyPrefixInBucket(targetPrefix, targetCommonPrefixLength + 1)')
    expect(out.split('\n').length).toBe(source.split('\n').length)
    expect(() => keyPrefixInBucket(0, 0)).toThrow(RangeError)
    expect(() => keyPrefixInBucket(0, 17)).toThrow(RangeError)
  })
})

describe("jsQR's Shift JIS table replaced by TextDecoder", () => {
  it('gives the same code point as the original table for every code a Kanji segment can hold', () => {
    const start = jsqrSource.indexOf('exports.shiftJISTable = {')
    const end = jsqrSource.indexOf('\n};', start)
    const original = new Function('exports', `${jsqrSource.slice(start, end + 3)}; return exports.shiftJISTable`)(
      {}
    ) as Record<number, number>
    const shim = new Function('exports', `${JSQR_TABLE_SHIM}; return exports.shiftJISTable`)({}) as Record<
      number,
      number
    >
    const wrong: string[] = []
    for (let k = 0; k < 8192; k++) {
      let c = (Math.floor(k / 0xc0) << 8) | (k % 0xc0)
      c += c < 0x1f00 ? 0x8140 : 0xc140
      if (shim[c] !== original[c]) wrong.push(c.toString(16))
    }
    expect(wrong).toEqual([])
  })

  it('decodes a Kanji-mode QR code as the original jsQR does', async () => {
    const QRCode = require('qrcode') as {
      create(t: string, o: object): { modules: { size: number; get(r: number, c: number): number } }
    }
    const toSJIS = require('qrcode/helper/to-sjis') as (c: string) => number
    const text = '漢字のテスト、安全な会話'
    const qr = QRCode.create(text, { toSJISFunc: toSJIS, errorCorrectionLevel: 'M' })
    const scale = 6
    const size = (qr.modules.size + 8) * scale
    const img = new Uint8ClampedArray(size * size * 4).fill(255)
    for (let y = 0; y < size; y++)
      for (let x = 0; x < size; x++) {
        const r = Math.floor(y / scale) - 4
        const c = Math.floor(x / scale) - 4
        if (r >= 0 && c >= 0 && r < qr.modules.size && c < qr.modules.size && qr.modules.get(r, c)) {
          img.fill(0, (y * size + x) * 4, (y * size + x) * 4 + 3)
        }
      }
    const swapped = transform(jsqrSource, jsqrPath)
    expect(swapped?.code.length).toBeLessThan(jsqrSource.length / 2)
    expect(loadJsqr(jsqrSource)(img, size, size)?.data).toBe(text)
    expect(loadJsqr(swapped!.code)(img, size, size)?.data).toBe(text)
  })

  it('fails the build when a dependency no longer has the code a swap expects', () => {
    expect(() => transform('module.exports = {}', jsqrPath)).toThrow(/Shift JIS table/)
    expect(() =>
      transform('export default 1', '/x/node_modules/@libp2p/kad-dht/dist/src/routing-table/refresh.js')
    ).toThrow(/generated-prefix-list/)
    expect(() =>
      transform(
        'import GENERATED_PREFIXES from "./generated-prefix-list.js";\nconst k = GENERATED_PREFIXES[p];',
        '/x/node_modules/@libp2p/kad-dht/dist/src/routing-table/refresh.js'
      )
    ).toThrow(/generated-prefix-list/)
  })
})

describe('mlkem stand-in over @noble/post-quantum', () => {
  const seed = (n: number, fill: number) => new Uint8Array(n).map((_, i) => (i * 7 + fill) & 0xff)

  it('derives, encapsulates and decapsulates byte-for-byte as mlkem does, without touching its inputs', async () => {
    const ours = new MlKem768()
    const theirs = new realMlkem.MlKem768()
    for (const fill of [0, 1, 200]) {
      const ikm = seed(64, fill)
      const [pk, sk] = await ours.deriveKeyPair(ikm)
      expect([pk, sk]).toEqual(await theirs.deriveKeyPair(ikm))
      expect(pk.length).toBe(1184)
      expect(sk.length).toBe(2400)
      const m = seed(32, fill + 3)
      const [ct, ss] = await ours.encap(pk, m)
      expect([ct, ss]).toEqual(await theirs.encap(pk, m))
      const skCopy = sk.slice()
      expect(await ours.decap(ct, sk)).toEqual(ss)
      expect(sk).toEqual(skCopy)
      // A changed ciphertext gives mlkem's implicit-rejection secret, not an error.
      const bad = ct.slice()
      bad[0] = bad[0]! ^ 1
      expect(await ours.decap(bad, sk)).toEqual(await theirs.decap(bad, sk))
      expect(await ours.decap(bad, sk)).not.toEqual(ss)
    }
    const [pk, sk] = await ours.generateKeyPair()
    const [ct, ss] = await ours.encap(pk)
    expect(await theirs.decap(ct, sk)).toEqual(ss)
  })

  it('SHAKE256 is the same function', () => {
    const input = seed(100, 9)
    expect(shake256.create({ dkLen: 96 }).update(input).digest()).toEqual(
      realMlkem.shake256.create({ dkLen: 96 }).update(input).digest()
    )
  })

  it('rejects wrong seed lengths and malformed keys with MlKemError', async () => {
    const kem = new MlKem768()
    await expect(kem.deriveKeyPair(new Uint8Array(63))).rejects.toMatchObject({ name: 'MlKemError' })
    const [pk] = await kem.deriveKeyPair(seed(64, 5))
    await expect(kem.encap(pk, new Uint8Array(31))).rejects.toMatchObject({ name: 'MlKemError' })
    await expect(kem.encap(pk.subarray(1))).rejects.toMatchObject({ name: 'MlKemError' })
    await expect(kem.decap(new Uint8Array(10), new Uint8Array(2400))).rejects.toMatchObject({ name: 'MlKemError' })
  })
})
