/**
 * Adding a contact by scanning their QR code with the camera: Chromium's fake camera plays a video file made from
 * the invite QR code as Alice's page draws it (rasterised in her page, written as Y4M frames); Bob opens the scanner (lazy-loaded jsqr, or
 * BarcodeDetector where the browser has one), it reads the link, and he adds and writes to Alice.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchChromium, newProfile, ParleyPage, startWebRelay, type WebRelay } from './pages.ts'

/** Side of the square video frame the QR code is drawn into (a multiple of 16 for 4:2:0). */
const SIDE = 640

/** A still Y4M video (4:2:0, grey chroma) of a SIDE×SIDE greyscale picture. */
function y4m(grey: number[], frames = 10): Buffer {
  const y = Buffer.from(grey.map((v) => 16 + Math.round((v * 219) / 255)))
  const chroma = Buffer.alloc((SIDE / 2) * (SIDE / 2) * 2, 128)
  const frame = Buffer.concat([Buffer.from('FRAME\n'), y, chroma])
  return Buffer.concat([
    Buffer.from(`YUV4MPEG2 W${SIDE} H${SIDE} F10:1 Ip A1:1 C420jpeg\n`),
    ...Array(frames).fill(frame)
  ])
}

let web: WebRelay
let dir: string
const browsers: Browser[] = []

beforeAll(async () => {
  web = await startWebRelay()
  dir = await mkdtemp(join(tmpdir(), 'parley-web-scan-'))
}, 120_000)

afterAll(async () => {
  for (const b of browsers) await b.close()
  await web?.stop()
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

describe('adding a contact with the camera', () => {
  it('Bob scans Alice’s invite QR code and writes to her', async () => {
    const aliceBrowser = await launchChromium()
    browsers.push(aliceBrowser)
    const alice = await ParleyPage.open(await newProfile(aliceBrowser), web.url)
    await alice.createIdentity('Alice')
    const link = await alice.inviteLink()
    // The QR code exactly as Alice's screen draws it, rasterised in her page: what a camera pointed at it would see.
    const grey = await alice.page.getByTestId('qr').evaluate(async (svg, side) => {
      const img = new Image()
      img.src = `data:image/svg+xml;base64,${btoa(new XMLSerializer().serializeToString(svg))}`
      await img.decode()
      const canvas = document.createElement('canvas')
      canvas.width = side
      canvas.height = side
      const ctx = canvas.getContext('2d')!
      ctx.fillStyle = '#fff'
      ctx.fillRect(0, 0, side, side)
      ctx.drawImage(img, 40, 40, side - 80, side - 80)
      const { data } = ctx.getImageData(0, 0, side, side)
      const out: number[] = []
      for (let i = 0; i < data.length; i += 4) out.push(data[i]!)
      return out
    }, SIDE)
    const video = join(dir, 'invite.y4m')
    await writeFile(video, y4m(grey))
    const bobBrowser = await launchChromium({
      fakeMedia: true,
      extraArgs: [`--use-file-for-fake-video-capture=${video}`]
    })
    browsers.push(bobBrowser)
    const bobCtx = await newProfile(bobBrowser)
    await bobCtx.grantPermissions(['camera'], { origin: new URL(web.url).origin })
    const bob = await ParleyPage.open(bobCtx, web.url)
    await bob.createIdentity('Bob')
    await bob.goto('contacts')
    await bob.page.getByTestId('add-contact-link').click()
    await bob.page.getByRole('button', { name: 'Scan a QR code' }).click()
    await bob.page.getByTestId('scanner').waitFor()
    // The scanner closes itself once it has read the code, and the form holds what it read.
    await bob.page.getByTestId('scanner').waitFor({ state: 'detached', timeout: 30_000 })
    expect(await bob.page.getByTestId('add-input').inputValue()).toBe(decodeURIComponent(link.split('invite=')[1]!))
    await bob.page.getByTestId('add-submit').click()
    await bob.page.getByTestId('composer').waitFor()
    expect(await bob.page.getByTestId('chat-name').textContent()).toBe('Alice')
    await bob.send('found you by QR')
    await alice.acceptRequest(60_000, 'Bob')
    await alice.waitMessage('found you by QR')
  }, 240_000)
})
