/**
 * The package's boundaries: its sources import only @parley/crypto, @noble/hashes (a synchronous SHA-256 for invite
 * checksums), uint8arrays (base64url, concat, equals; it has a browser build) and each other (no libp2p, no Node built-ins), so messenger and relay can share it in Node and
 * browsers; and it keeps no state between calls.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'

const srcDir = new URL('../src/', import.meta.url)
const sources = readdirSync(srcDir).filter((f) => f.endsWith('.ts'))

describe('@parley/wire boundaries', () => {
  it('src imports only @parley/crypto, @noble/hashes, uint8arrays and relative .ts files', () => {
    expect(sources.length).toBeGreaterThan(5)
    for (const file of sources) {
      const text = readFileSync(new URL(file, srcDir), 'utf8')
      const specifiers = [...text.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+'([^']+)'/gm)].map((m) => m[1]!)
      for (const s of specifiers) {
        const allowed =
          s === '@parley/crypto' ||
          s.startsWith('@noble/hashes/') ||
          s === 'uint8arrays' ||
          (s.startsWith('./') && s.endsWith('.ts'))
        expect(allowed, `${file}: ${s}`).toBe(true)
      }
      expect(text, file).not.toMatch(/libp2p['/]|from 'node:|Math\.random/)
    }
  })

  it('no module-level mutable state: no top-level let, and no Map or Set held at module level', () => {
    for (const file of sources) {
      const text = readFileSync(new URL(file, srcDir), 'utf8')
      expect(text, file).not.toMatch(/^let\s/m)
      expect(text, file).not.toMatch(/^(?:export\s+)?const\s+\w+\s*=\s*new\s+(?:Map|Set|WeakMap)\b/m)
    }
  })
})
