/**
 * Where the WebRTC tests (`*.netns.test.ts`) run: the private network namespace scripts/netns.ts makes (lo plus a veth
 * pair with two private test addresses), because Chromium never uses loopback for ICE. Started anywhere else they fail
 * at once with the command to use: never a skip.
 */
import type * as Os from 'node:os'

/** The address a relay (or TURN server) in a netns test binds: the first end of the veth pair (scripts/netns.ts). */
export const NETNS_RELAY_HOST = '10.99.0.1'
/** The second test address: a Node peer listens here to be on "another host" of the test subnet. */
export const NETNS_PEER_HOST = '10.99.0.2'
/** The command that runs netns tests inside the namespace. */
export const NETNS_COMMAND = 'pnpm exec node scripts/netns.ts pnpm exec vitest run --project netns <files>'

/** A netns test started outside the test network namespace; names what is missing and the command to use. */
export class NotInNetnsError extends Error {
  static override readonly name = 'NotInNetnsError'
  readonly code = 'NotInNetns'
  readonly missing: readonly string[]
  constructor(missing: readonly string[]) {
    super(
      `this WebRTC test must run inside the test network namespace (missing ${missing.join(', ')}): ` +
        `run \`pnpm test:netns\` or \`${NETNS_COMMAND}\``
    )
    this.name = 'NotInNetnsError'
    this.missing = missing
  }
}

/**
 * Throws NotInNetnsError unless this process runs inside the namespace: `PARLEY_NETNS=1` and both test addresses on
 * an interface. Node only; `node:os` is loaded when called, so browser tests may import this package.
 */
export function assertInNetns(): void {
  const { networkInterfaces } = process.getBuiltinModule('node:os') as typeof Os
  const present = new Set(
    Object.values(networkInterfaces())
      .flat()
      .map((i) => i?.address)
  )
  const missing: string[] = [NETNS_RELAY_HOST, NETNS_PEER_HOST].filter((a) => !present.has(a))
  if (process.env.PARLEY_NETNS !== '1') missing.push('PARLEY_NETNS=1')
  if (missing.length > 0) throw new NotInNetnsError(missing)
}
