/**
 * How every Parley test and benchmark launches Chromium: Debian's binary (or `PARLEY_CHROMIUM`) with the one list of
 * flags that lets it start as root on a machine with no outside network (shared/FACTS.md). Plain data, no Playwright
 * import: the result fits `chromium.launch()`, `launchPersistentContext()` and vitest's playwright provider alike.
 */

/** Where Debian puts Chromium; `PARLEY_CHROMIUM` overrides it. */
export const DEFAULT_CHROMIUM_PATH = '/usr/bin/chromium'

/**
 * Flags for Chromium as root with no outside network: no sandbox (root), no GPU, no QUIC, and none of the background
 * traffic (first-run, component updates, sync) that would try to reach Google.
 */
export const CHROMIUM_ARGS: readonly string[] = Object.freeze([
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync'
])

/** A fake camera and microphone (a test pattern and a beep), allowed without a permission prompt: for calls. */
export const CHROMIUM_FAKE_MEDIA_ARGS: readonly string[] = Object.freeze([
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream'
])

/**
 * Real host ICE candidates instead of mDNS `.local` names, which a Node peer (node-datachannel) cannot resolve inside
 * the test network namespace: for WebRTC tests.
 */
export const CHROMIUM_HOST_CANDIDATES_ARGS: readonly string[] = Object.freeze([
  '--disable-features=WebRtcHideLocalIpsWithMdns'
])

/** What a test asks of its Chromium beyond the base flags. */
export interface ChromiumLaunchInit {
  /** Fake camera and microphone (CHROMIUM_FAKE_MEDIA_ARGS). */
  fakeMedia?: boolean
  /** Real host ICE candidates, not mDNS names (CHROMIUM_HOST_CANDIDATES_ARGS). */
  hostCandidates?: boolean
  /** Further flags, appended last (e.g. `--use-file-for-fake-video-capture=<file>`). */
  extraArgs?: readonly string[]
}

/** Launch options for Playwright's Chromium (`chromium.launch`, `launchPersistentContext`, vitest's provider). */
export interface ChromiumLaunchOptions {
  executablePath: string
  args: string[]
  headless: true
}

/** The Chromium binary to launch: `PARLEY_CHROMIUM` when set, else DEFAULT_CHROMIUM_PATH. Read at call time. */
export function chromiumExecutablePath(): string {
  return globalThis.process?.env.PARLEY_CHROMIUM || DEFAULT_CHROMIUM_PATH
}

/** The one definition of how tests launch Chromium: the base flags plus what `init` asks for, headless. */
export function chromiumLaunchOptions(init: ChromiumLaunchInit = {}): ChromiumLaunchOptions {
  const args = [...CHROMIUM_ARGS]
  if (init.hostCandidates === true) args.push(...CHROMIUM_HOST_CANDIDATES_ARGS)
  if (init.fakeMedia === true) args.push(...CHROMIUM_FAKE_MEDIA_ARGS)
  if (init.extraArgs !== undefined) args.push(...init.extraArgs)
  return { executablePath: chromiumExecutablePath(), args, headless: true }
}
