/**
 * docs/crypto/kdf-registry.md matches the code: every `Parley_…`, `Parley/…` or `parley/…` string literal in the sources of every
 * package and app (KDF info strings, AD labels, signature contexts, hash labels) is listed, and the page lists nothing
 * the code does not use. Node-only: it reads the source tree.
 */
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { registryLabels } from './helpers/registry.ts'

const ROOT = new URL('../../../', import.meta.url).pathname
/** A string literal that is a label: `Parley_…`, `Parley/…` or `parley/…` (not metric names such as `parley_relay_…`). */
const LITERAL = /['"`]((?:Parley[_/]|parley\/)[^'"`\s]*)['"`]/g

async function sources(dir: string): Promise<string[]> {
  const out: string[] = []
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const path = join(dir, entry.name)
    if (entry.isDirectory() && entry.name !== 'node_modules') out.push(...(await sources(path)))
    else if (entry.isFile() && /\.ts$/.test(entry.name)) out.push(path)
  }
  return out
}

describe('the KDF and signature-context registry', () => {
  it('lists exactly the labels the sources use', async () => {
    const found = new Map<string, string>()
    for (const top of ['packages', 'apps']) {
      for (const pkg of await readdir(join(ROOT, top))) {
        for (const file of await sources(join(ROOT, top, pkg, 'src'))) {
          for (const m of (await readFile(file, 'utf8')).matchAll(LITERAL)) found.set(m[1]!, file.slice(ROOT.length))
        }
      }
    }
    expect(found.size).toBeGreaterThanOrEqual(14)
    const missing = [...found].filter(([label]) => !registryLabels.includes(label)).map(([l, f]) => `${l} (${f})`)
    const unused = registryLabels.filter((label) => !found.has(label))
    expect({ missing, unused }).toEqual({ missing: [], unused: [] })
  })
})
