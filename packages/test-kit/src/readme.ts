/**
 * Every package README's first example must run as written. This runs it: the first ```ts block, written inside the
 * package (so the package's own name and its dependencies resolve as a user's would) and started with this Node.
 * Node only; `node:*` modules are loaded when called, so browser tests may import this package.
 */
import type * as ChildProcess from 'node:child_process'
import type * as Fs from 'node:fs'

/** How long a README example may run, ms. */
export const README_EXAMPLE_TIMEOUT_MS = 60_000

/** The README has no ```ts block to run. */
export class NoReadmeExampleError extends Error {
  static override readonly name = 'NoReadmeExampleError'
  readonly code = 'NoReadmeExample'
  constructor(readme: string) {
    super(`no \`\`\`ts example in ${readme}`)
    this.name = 'NoReadmeExampleError'
  }
}

/** What the example did: its exit status (null when killed) and what it printed. */
export interface ReadmeRun {
  status: number | null
  stdout: string
  stderr: string
}

/**
 * Runs the first ```ts block of `packageDir`'s README.md (a `file:` URL of the package directory, e.g.
 * `new URL('..', import.meta.url)` from its test/) and returns what it printed; the temporary file is always removed.
 */
export function runReadmeExample(packageDir: URL, timeoutMs = README_EXAMPLE_TIMEOUT_MS): ReadmeRun {
  const { readFileSync, rmSync, writeFileSync } = process.getBuiltinModule('node:fs') as typeof Fs
  const { spawnSync } = process.getBuiltinModule('node:child_process') as typeof ChildProcess
  const readme = new URL('README.md', packageDir)
  const code = /```ts\n([\s\S]*?)```/.exec(readFileSync(readme, 'utf8'))?.[1]
  if (code === undefined) throw new NoReadmeExampleError(readme.pathname)
  const file = new URL('.readme-example.ts', packageDir)
  writeFileSync(file, code)
  try {
    const run = spawnSync(process.execPath, [file.pathname], { encoding: 'utf8', timeout: timeoutMs })
    return { status: run.status, stdout: run.stdout, stderr: run.stderr }
  } finally {
    rmSync(file, { force: true })
  }
}
