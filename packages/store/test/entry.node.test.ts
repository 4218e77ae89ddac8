/**
 * The browser entry must not pull in LevelDB or any node:* module (a bundler would fail or ship a native addon
 * stub), and the Node entry must not pull in IndexedDB. Checked on the import graph of the sources.
 */
import { readFile } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'

async function bareImports(entry: string): Promise<Set<string>> {
  const seen = new Set<string>()
  const bare = new Set<string>()
  const walk = async (url: URL): Promise<void> => {
    if (seen.has(url.href)) return
    seen.add(url.href)
    const source = await readFile(url, 'utf8')
    for (const m of source.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+'([^']+)'|import\('([^']+)'\)/gm)) {
      const spec = m[1] ?? m[2]!
      if (spec.startsWith('.')) await walk(new URL(spec, url))
      else bare.add(spec)
    }
  }
  await walk(new URL(entry, import.meta.url))
  return bare
}

describe('entry points', () => {
  it('package.json maps "." to the browser entry for browsers and the Node entry otherwise', async () => {
    const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8'))
    expect(pkg.exports['.']).toEqual({
      types: './src/index.ts',
      browser: './src/index.browser.ts',
      default: './src/index.ts'
    })
  })

  it('the browser entry imports no node:* module, no LevelDB and no libp2p', async () => {
    const imports = [...(await bareImports('../src/index.browser.ts'))]
    expect(imports).toContain('datastore-idb')
    expect(imports.filter((s) => s.startsWith('node:') || /level|libp2p/.test(s))).toEqual([])
  })

  it('the Node entry imports no IndexedDB backend and no libp2p', async () => {
    const imports = [...(await bareImports('../src/index.ts'))]
    expect(imports).toContain('datastore-level')
    expect(imports.filter((s) => /idb|libp2p/.test(s))).toEqual([])
  })
})
