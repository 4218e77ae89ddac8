/** runReadmeExample on this package's own README: the example (until, then a real Chromium) runs as written. */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { describe, expect, it } from 'vitest'
import { NoReadmeExampleError, runReadmeExample } from '../src/index.ts'

describe('runReadmeExample', () => {
  it("runs this README's example, which waits with until and prints the launched Chromium's version", () => {
    const dir = new URL('..', import.meta.url)
    const run = runReadmeExample(dir)
    expect(run.status, run.stderr).toBe(0)
    expect(run.stdout.trim()).toMatch(/^\d+\.\d+\.\d+\.\d+$/)
    // The temporary example file is gone.
    expect(readdirSync(dir).filter((f) => f.startsWith('.readme-example'))).toEqual([])
  }, 60_000)

  it('a failing example reports its status and stderr; a README without a ts block is NoReadmeExampleError', () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-readme-'))
    try {
      const url = pathToFileURL(`${dir}/`)
      writeFileSync(join(dir, 'README.md'), "# x\n\n```ts\nconsole.error('broken'); process.exit(3)\n```\n")
      const run = runReadmeExample(url)
      expect(run.status).toBe(3)
      expect(run.stderr.trim()).toBe('broken')
      writeFileSync(join(dir, 'README.md'), '# x\n\nno code here\n')
      expect(() => runReadmeExample(url)).toThrow(NoReadmeExampleError)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
