/**
 * The kit of the WebRTC tests (`*.netns.test.ts`, vitest project `netns`). They run inside the private network
 * namespace of scripts/netns.ts (`pnpm test:netns`): lo plus a veth pair with 10.99.0.1/24 and 10.99.0.2/24, so
 * Chromium (which never uses loopback for ICE) and node-datachannel gather real host candidates while every packet
 * stays on this machine. Started anywhere else, `assertInNetns()` fails with the command to use: never a skip.
 */
import { networkInterfaces } from 'node:os'
import { type Browser, chromium } from 'playwright-core'

/** The address a relay in a netns test binds (the first end of the veth pair). */
export const NETNS_RELAY_HOST = '10.99.0.1'
/** The second test address (a Node peer can listen here to be on "another host" of the test subnet). */
export const NETNS_PEER_HOST = '10.99.0.2'

/**
 * Flags that let Debian's Chromium start as root here (shared/FACTS.md, the same list as vitest.config.ts), plus one
 * for WebRTC: without it Chromium hides host candidates behind mDNS `.local` names, which a Node peer
 * (node-datachannel) cannot resolve in the namespace.
 */
export const NETNS_CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-features=WebRtcHideLocalIpsWithMdns'
]

/** Throws, naming the command to use, unless this process runs inside the namespace scripts/netns.ts makes. */
export function assertInNetns(): void {
  const present = new Set(
    Object.values(networkInterfaces())
      .flat()
      .map((i) => i?.address)
  )
  const missing = [NETNS_RELAY_HOST, NETNS_PEER_HOST].filter((a) => !present.has(a))
  if (process.env.PARLEY_NETNS !== '1' || missing.length > 0) {
    throw new Error(
      `this WebRTC test must run inside the test network namespace (missing ${missing.join(', ') || 'PARLEY_NETNS=1'}): ` +
        'run `pnpm test:netns` or `node scripts/netns.ts vitest run --project netns <files>`'
    )
  }
}

/** Debian's Chromium through playwright-core with the flags above (`PARLEY_CHROMIUM` overrides the binary). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.PARLEY_CHROMIUM ?? '/usr/bin/chromium',
    args: NETNS_CHROMIUM_ARGS,
    headless: true
  })
}
