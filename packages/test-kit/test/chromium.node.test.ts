/** The one Chromium launch definition: base flags always, extras on request, the binary from PARLEY_CHROMIUM. */
import { chromium } from 'playwright-core'
import { afterEach, describe, expect, it } from 'vitest'
import {
  CHROMIUM_ARGS,
  CHROMIUM_FAKE_MEDIA_ARGS,
  CHROMIUM_HOST_CANDIDATES_ARGS,
  chromiumLaunchOptions,
  DEFAULT_CHROMIUM_PATH
} from '../src/index.ts'

const saved = process.env.PARLEY_CHROMIUM
afterEach(() => {
  if (saved === undefined) delete process.env.PARLEY_CHROMIUM
  else process.env.PARLEY_CHROMIUM = saved
})

describe('chromiumLaunchOptions', () => {
  it('gives the base flags only, headless, when nothing more is asked', () => {
    delete process.env.PARLEY_CHROMIUM
    expect(chromiumLaunchOptions()).toEqual({
      executablePath: DEFAULT_CHROMIUM_PATH,
      args: [...CHROMIUM_ARGS],
      headless: true
    })
    expect(CHROMIUM_ARGS).toContain('--disable-quic')
    expect(CHROMIUM_ARGS).toContain('--no-sandbox')
  })

  it('adds host candidates, fake media and extra flags in that order, after the base flags', () => {
    const extra = '--use-file-for-fake-video-capture=/tmp/x.y4m'
    const { args } = chromiumLaunchOptions({ fakeMedia: true, hostCandidates: true, extraArgs: [extra] })
    expect(args).toEqual([...CHROMIUM_ARGS, ...CHROMIUM_HOST_CANDIDATES_ARGS, ...CHROMIUM_FAKE_MEDIA_ARGS, extra])
  })

  it('each call returns a fresh args array, so a caller pushing to it cannot change the shared list', () => {
    chromiumLaunchOptions().args.push('--bogus')
    expect(chromiumLaunchOptions().args).toEqual([...CHROMIUM_ARGS])
    expect(Object.isFrozen(CHROMIUM_ARGS)).toBe(true)
  })

  it('takes the binary from PARLEY_CHROMIUM at call time', () => {
    process.env.PARLEY_CHROMIUM = '/opt/other/chromium'
    expect(chromiumLaunchOptions().executablePath).toBe('/opt/other/chromium')
  })

  it('starts the real Chromium, whose fake camera gives a video track with no prompt', async () => {
    const browser = await chromium.launch(chromiumLaunchOptions({ fakeMedia: true, hostCandidates: true }))
    try {
      const page = await browser.newPage()
      // getUserMedia needs a secure context: Playwright answers http://localhost itself, nothing listens.
      await page.route('http://localhost/', (route) => route.fulfill({ contentType: 'text/html', body: '<p>kit</p>' }))
      await page.goto('http://localhost/')
      const kinds = await page.evaluate(async () => {
        const stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: true })
        const k = stream.getTracks().map((t) => t.kind)
        for (const t of stream.getTracks()) t.stop()
        return k.sort()
      })
      expect(kinds).toEqual(['audio', 'video'])
    } finally {
      await browser.close()
    }
  }, 60_000)
})
