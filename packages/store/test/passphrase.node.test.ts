/** resolvePassphrase in Node: explicit file, then environment variable, then prompt; none is a typed error. */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  InvalidParameterError,
  MAX_PASSPHRASE_FILE_BYTES,
  PassphraseRequiredError,
  RecordTooLargeError,
  resolvePassphrase
} from '../src/index.ts'

let dir: string
const ENV = 'PARLEY_TEST_PASSPHRASE'

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'parley-pass-'))
  delete process.env[ENV]
  vi.stubEnv('PARLEY_PASSPHRASE', undefined)
})
afterEach(async () => {
  delete process.env[ENV]
  vi.unstubAllEnvs()
  await rm(dir, { recursive: true, force: true })
})

async function file(content: string): Promise<string> {
  const path = join(dir, 'passphrase')
  await writeFile(path, content, { mode: 0o600 })
  return path
}

describe('resolvePassphrase (Node)', () => {
  it('an explicit file wins over the environment and the prompt; one trailing newline is dropped', async () => {
    process.env[ENV] = 'from env'
    const prompt = vi.fn(async () => 'from prompt')
    expect(await resolvePassphrase({ file: await file('from file \n'), env: ENV, prompt })).toBe('from file ')
    expect(await resolvePassphrase({ file: await file('crlf\r\n'), env: ENV, prompt })).toBe('crlf')
    expect(await resolvePassphrase({ file: await file('two\nlines\n'), env: ENV, prompt })).toBe('two\nlines')
    expect(prompt).not.toHaveBeenCalled()
  })

  it('the environment variable comes next, then the prompt', async () => {
    const prompt = vi.fn(async () => 'from prompt')
    process.env[ENV] = 'from env'
    expect(await resolvePassphrase({ env: ENV, prompt })).toBe('from env')
    process.env[ENV] = '' // empty counts as unset
    expect(await resolvePassphrase({ env: ENV, prompt })).toBe('from prompt')
    expect(prompt).toHaveBeenCalledOnce()
  })

  it('PARLEY_PASSPHRASE is the default variable; env: false skips the environment', async () => {
    vi.stubEnv('PARLEY_PASSPHRASE', 'default env')
    expect(await resolvePassphrase({})).toBe('default env')
    await expect(resolvePassphrase({ env: false })).rejects.toBeInstanceOf(PassphraseRequiredError)
  })

  it('no source at all, or only empty ones, is PassphraseRequiredError naming what was tried', async () => {
    await expect(resolvePassphrase()).rejects.toBeInstanceOf(PassphraseRequiredError)
    await expect(resolvePassphrase({ file: await file('\n'), env: ENV, prompt: async () => '' })).rejects.toMatchObject(
      {
        code: 'PassphraseRequired',
        message: expect.stringMatching(/file \(empty\).*PARLEY_TEST_PASSPHRASE.*prompt \(empty answer\)/)
      }
    )
  })

  it('a named file that cannot be read is InvalidParameterError, not a fall-through', async () => {
    process.env[ENV] = 'from env'
    await expect(resolvePassphrase({ file: join(dir, 'missing'), env: ENV })).rejects.toMatchObject({
      name: 'InvalidParameterError',
      message: expect.stringContaining('ENOENT')
    })
    const path = await file('secret')
    await chmod(path, 0o000)
    if (process.getuid?.() !== 0) {
      await expect(resolvePassphrase({ file: path })).rejects.toBeInstanceOf(InvalidParameterError)
    }
  })

  it(`a passphrase file over ${MAX_PASSPHRASE_FILE_BYTES} bytes is refused`, async () => {
    await expect(
      resolvePassphrase({ file: await file('x'.repeat(MAX_PASSPHRASE_FILE_BYTES + 1)) })
    ).rejects.toBeInstanceOf(RecordTooLargeError)
  })

  it('an explicit string wins over everything; the prompt gets the signal', async () => {
    expect(await resolvePassphrase({ passphrase: 'typed', file: join(dir, 'missing') })).toBe('typed')
    const controller = new AbortController()
    const prompt = vi.fn(async ({ signal }: { signal?: AbortSignal }) => {
      expect(signal).toBe(controller.signal)
      return 'answer'
    })
    expect(await resolvePassphrase({ env: false, prompt, signal: controller.signal })).toBe('answer')
    controller.abort()
    await expect(resolvePassphrase({ prompt, signal: controller.signal })).rejects.toMatchObject({
      name: 'AbortError'
    })
  })
})
