/**
 * Where the web app's JavaScript weight comes from: builds the app with source maps into a temporary directory and
 * attributes each chunk's gzip size to its source modules in proportion to the minified bytes each one produced
 * (an estimate: gzip does not compress every module alike). Prints the total, then packages and modules by size.
 * `pnpm exec node apps/web/bench/bundle-breakdown.ts [modules to list, default 40]`
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'

const WEB_ROOT = join(import.meta.dirname, '..')
const VITE = join(WEB_ROOT, '../../node_modules/vite/bin/vite.js')
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'

/** Source-map "mappings": per generated line, segments [column, source index] (absolute; other fields skipped). */
function decodeMappings(mappings: string): [number, number | undefined][][] {
  const lines: [number, number | undefined][][] = []
  let source = 0
  for (const line of mappings.split(';')) {
    const segments: [number, number | undefined][] = []
    let column = 0
    for (const seg of line.split(',')) {
      if (seg === '') continue
      const fields: number[] = []
      let value = 0
      let shift = 0
      for (const ch of seg) {
        const digit = B64.indexOf(ch)
        value += (digit & 31) << shift
        if (digit & 32) shift += 5
        else {
          fields.push(value & 1 ? -(value >>> 1) : value >>> 1)
          value = 0
          shift = 0
        }
      }
      column += fields[0]!
      if (fields.length > 1) source += fields[1]!
      segments.push([column, fields.length > 1 ? source : undefined])
      // Original line/column fields (2, 3) and names (4) are relative too but not needed here.
    }
    lines.push(segments)
  }
  return lines
}

function packageOf(source: string): string {
  const dep = source.match(/node_modules\/\.pnpm\/([^/]+)\/node_modules\/((?:@[^/]+\/)?[^/]+)/)
  if (dep) return `${dep[2]}@${dep[1]!.replace(/_.*$/, '').replace(/^.*@/, '')}`
  const own = source.match(/(?:packages|apps)\/([^/]+)\//)
  return own ? `@parley/${own[1]}` : '@parley/web'
}

const out = mkdtempSync(join(tmpdir(), 'parley-web-breakdown-'))
try {
  execFileSync(process.execPath, [VITE, 'build', '--sourcemap', '--outDir', out, '--logLevel', 'error'], {
    cwd: WEB_ROOT,
    stdio: 'inherit'
  })
  const assets = join(out, 'assets')
  const byPackage = new Map<string, number>()
  const byModule = new Map<string, number>()
  let total = 0
  for (const file of readdirSync(assets).filter((f) => f.endsWith('.js'))) {
    const code = readFileSync(join(assets, file), 'utf8').replace(/\n\/\/# sourceMappingURL=.*\n?$/, '')
    const gz = gzipSync(code).length
    total += gz
    const mapFile = join(assets, `${file}.map`)
    if (!existsSync(mapFile)) {
      byPackage.set('(no source map: bundler runtime)', (byPackage.get('(no source map: bundler runtime)') ?? 0) + gz)
      continue
    }
    const map = JSON.parse(readFileSync(mapFile, 'utf8')) as { sources: string[]; mappings: string }
    const text = code.split('\n')
    decodeMappings(map.mappings).forEach((segments, li) => {
      const length = text[li]?.length ?? 0
      segments.forEach(([column, source], i) => {
        if (source === undefined) return
        const bytes = (segments[i + 1]?.[0] ?? length) - column
        const share = (bytes / code.length) * gz
        const name = map.sources[source]!
        byModule.set(name, (byModule.get(name) ?? 0) + share)
        byPackage.set(packageOf(name), (byPackage.get(packageOf(name)) ?? 0) + share)
      })
    })
  }
  const kb = (n: number) => (n / 1024).toFixed(1).padStart(7)
  const top = (m: Map<string, number>, n: number) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n)
  console.log(`all JavaScript, gzip: ${kb(total)} KB\n\npackages (KB gzip, estimated):`)
  for (const [name, size] of top(byPackage, 60)) console.log(`${kb(size)}  ${name}`)
  console.log('\nmodules:')
  for (const [name, size] of top(byModule, Number(process.argv[2] ?? 40)))
    console.log(`${kb(size)}  ${name.replace(/^.*node_modules\//, '').replace(/^(\.\.\/)+/, '')}`)
} finally {
  rmSync(out, { recursive: true, force: true })
}
