/** The README's first example runs as written and prints what its comment says. */
import { spawnSync } from 'node:child_process'
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'

describe('README', () => {
  it('the key schedule and SFrame example runs under Node and round-trips the frame', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
    const code = /```ts\n([\s\S]*?)```/.exec(readme)?.[1]
    expect(code).toBeDefined()
    const file = new URL('../.readme-example.ts', import.meta.url)
    writeFileSync(file, code!)
    try {
      const run = spawnSync(process.execPath, [file.pathname], { encoding: 'utf8', timeout: 60_000 })
      expect(run.status, run.stderr).toBe(0)
      expect(run.stdout.trim()).toBe('one encoded video frame')
    } finally {
      rmSync(file, { force: true })
    }
  })
})
