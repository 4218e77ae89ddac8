/**
 * The newcomer path end to end: `pnpm start` (scripts/start.ts, on a temporary data directory and free ports) builds
 * the app if needed, serves it, and points it at itself; a fresh Chromium profile opens the printed URL, creates an
 * identity, and connects to that relay.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser } from 'playwright-core'
import { afterAll, describe, expect, it } from 'vitest'
import { ensureBuilt, launchChromium, newProfile, ParleyPage, REPO_ROOT } from './pages.ts'

let child: ChildProcess | undefined
let browser: Browser | undefined
let dir: string | undefined

afterAll(async () => {
  await browser?.close()
  if (child?.exitCode === null) {
    const exited = new Promise((r) => child!.once('exit', r))
    child.kill('SIGINT')
    await exited
  }
  if (dir) await rm(dir, { recursive: true, force: true })
})

/** Starts `pnpm start`'s script and resolves with the web URL and relay addresses it prints. */
async function pnpmStart(dataDir: string): Promise<{ url: string; listening: string[]; output: () => string }> {
  child = spawn(process.execPath, [join(REPO_ROOT, 'scripts/start.ts')], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      PARLEY_START_DATA: dataDir,
      PARLEY_RELAY_HTTP_PORT: '0',
      PARLEY_START_TCP_PORT: '0',
      PARLEY_START_WS_PORT: '0'
    },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let out = ''
  child.stdout!.on('data', (d) => {
    out += d
  })
  child.stderr!.on('data', (d) => {
    out += d
  })
  const end = Date.now() + 120_000
  for (;;) {
    const url = /web app: +(http:\/\/\S+\/)\n/.exec(out)?.[1]
    if (url !== undefined && out.includes('Ctrl-C')) {
      const listening = [...out.matchAll(/listening: (\S+)/g)].map((m) => m[1]!)
      return { url, listening, output: () => out }
    }
    if (child.exitCode !== null || Date.now() > end) throw new Error(`pnpm start did not serve the app:\n${out}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

describe('pnpm start for a newcomer', () => {
  it('serves the app pointed at its own relay; a fresh browser creates an identity and connects', async () => {
    // Built here under the tests' build lock (parallel test files share dist); start.ts then finds it fresh.
    await ensureBuilt()
    dir = await mkdtemp(join(tmpdir(), 'parley-start-'))
    const { url, listening } = await pnpmStart(dir)
    const ws = listening.find((a) => a.includes('/ws/p2p/'))
    expect(ws).toBeDefined()
    // The page is pointed at this relay.
    const config = (await (await fetch(`${url}parley.json`)).json()) as { relays: string[] }
    expect(config.relays).toContain(ws)

    browser = await launchChromium()
    const page = await ParleyPage.open(await newProfile(browser), url)
    expect(await page.page.getByTestId('ob-relays').textContent()).toContain(ws!)
    await page.createIdentity('Newcomer')
    await page.waitConnected(60_000)
    // Its invite carries a circuit address through this relay.
    const link = await page.inviteLink()
    expect(link.startsWith(url)).toBe(true)
    await page.screenshot('newcomer-connected')
  }, 240_000)
})
