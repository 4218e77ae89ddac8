import { chromiumLaunchOptions } from '@parley/test-kit'
import { playwright } from '@vitest/browser-playwright'
import { defineConfig } from 'vitest/config'

/**
 * The Node side of packages/relay/test/relay.browser.test.ts (a relay and a Node messenger), imported on first use so
 * that runs which never call it do not load it; Node runs it as TypeScript directly.
 */
const RELAY_OPS = new URL('./packages/relay/test/browser-relay-commands.ts', import.meta.url).href

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'node',
          include: ['packages/*/test/**/*.test.ts', 'apps/*/test/**/*.test.ts', 'test/**/*.test.ts'],
          exclude: ['**/*.browser.test.ts', '**/*.netns.test.ts', '**/*.sim.test.ts', '**/node_modules/**'],
          environment: 'node',
          testTimeout: 60_000,
          hookTimeout: 60_000
        }
      },
      {
        test: {
          // Whole simulated networks (tens of real nodes on one event loop): their figures (lookup success, delivery
          // ratio) are what the tests assert, so they run one file at a time after the other projects (scripts/test.ts).
          name: 'sim',
          include: ['packages/sim/test/**/*.sim.test.ts'],
          exclude: ['**/node_modules/**'],
          environment: 'node',
          fileParallelism: false,
          testTimeout: 300_000,
          hookTimeout: 300_000
        }
      },
      {
        // Pre-bundle the noble entry points so Vite does not re-optimise them (and reload the page) mid-run.
        optimizeDeps: {
          include: [
            '@noble/curves/ed25519.js',
            '@noble/hashes/sha2.js',
            '@noble/hashes/hmac.js',
            '@noble/hashes/hkdf.js',
            '@noble/hashes/utils.js',
            '@noble/ciphers/aes.js',
            '@noble/post-quantum/ml-kem.js',
            '@noble/hashes/scrypt.js',
            'fast-check'
          ]
        },
        test: {
          name: 'browser',
          // Shared tests run in Chromium too; files that need Node's own APIs end in .node.test.ts.
          include: ['packages/*/test/**/*.test.ts'],
          exclude: ['**/*.node.test.ts', '**/*.netns.test.ts', '**/*.sim.test.ts', '**/node_modules/**'],
          // A Node messenger (bootstrap peer, DHT server, echo bot) for the messenger's browser tests.
          globalSetup: ['packages/messenger/test/browser-global-setup.ts'],
          testTimeout: 120_000,
          browser: {
            // Run in this (Node) process; a browser test calls them as `commands.<name>(...)` from 'vitest/browser'.
            commands: {
              parleyRelay: async (_ctx, op: string, ...args: unknown[]) => {
                const { relayOps } = await import(RELAY_OPS)
                if (typeof relayOps[op] !== 'function') throw new Error(`parleyRelay: no operation ${op}`)
                return relayOps[op](...args)
              }
            },
            enabled: true,
            headless: true,
            // Debian's Chromium with the flags every test shares (@parley/test-kit; shared/FACTS.md).
            provider: playwright({ launchOptions: chromiumLaunchOptions() }),
            instances: [{ browser: 'chromium' }]
          }
        }
      },
      {
        test: {
          // WebRTC tests with real Chromium (playwright-core) and real libp2p: they need a non-loopback interface, so
          // they run inside the private network namespace of scripts/netns.ts (`pnpm test:netns`); see test/netns-kit.ts.
          name: 'netns',
          include: ['**/*.netns.test.ts'],
          exclude: ['**/node_modules/**'],
          environment: 'node',
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 180_000
        }
      }
    ]
  }
})
