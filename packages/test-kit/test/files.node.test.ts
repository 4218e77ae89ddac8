/** Build-if-stale: a build is fresh only when its output is at least as new as every source, nested ones included. */
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { isBuiltFrom, newestMtimeMs } from '../src/index.ts'

let dir: string
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'parley-test-kit-'))
})
afterEach(() => rmSync(dir, { recursive: true, force: true }))

/** Writes `file` with its modification time set to `seconds` (explicit times: no dependence on the clock's grain). */
function touch(file: string, seconds: number): void {
  writeFileSync(file, 'x')
  utimesSync(file, seconds, seconds)
}

describe('newestMtimeMs and isBuiltFrom', () => {
  it('finds the newest file deep in a directory; a missing path counts as 0', () => {
    mkdirSync(join(dir, 'src', 'deep'), { recursive: true })
    touch(join(dir, 'src', 'a.ts'), 1_000)
    touch(join(dir, 'src', 'deep', 'b.ts'), 2_000)
    expect(newestMtimeMs([join(dir, 'src'), join(dir, 'missing')])).toBe(2_000_000)
    expect(newestMtimeMs([join(dir, 'missing')])).toBe(0)
  })

  it('a build older than one nested source is stale; as new as every source it is fresh; a missing one is stale', () => {
    mkdirSync(join(dir, 'src', 'deep'), { recursive: true })
    touch(join(dir, 'src', 'deep', 'b.ts'), 2_000)
    const out = join(dir, 'index.html')
    expect(isBuiltFrom(out, [join(dir, 'src')])).toBe(false)
    touch(out, 1_500)
    expect(isBuiltFrom(out, [join(dir, 'src')])).toBe(false)
    utimesSync(out, 2_000, 2_000)
    expect(isBuiltFrom(out, [join(dir, 'src')])).toBe(true)
  })
})
