/** The README's first example runs as written and prints what its comments say. */
import { spawnSync } from 'node:child_process'
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'

describe('README', () => {
  it('the first example runs under Node and prints what its comments promise', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
    const code = /```ts\n([\s\S]*?)```/.exec(readme)?.[1]
    expect(code).toBeDefined()
    // Inside the package, so `@parley/wire` resolves to this package by its own name.
    const file = new URL('../.readme-example.ts', import.meta.url)
    writeFileSync(file, code!)
    try {
      const run = spawnSync(process.execPath, [file.pathname], { encoding: 'utf8', timeout: 60_000 })
      expect(run.status, run.stderr).toBe(0)
      expect(run.stdout.trim().split('\n')).toEqual(['64', '/parley/dm/1.0.0 text', 'UnknownVersion', 'true'])
    } finally {
      rmSync(file, { force: true })
    }
  })
})
