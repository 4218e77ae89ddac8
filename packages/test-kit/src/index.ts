/**
 * @parley/test-kit — the helpers every package's tests share. A leaf with no dependencies, so any package (crypto to
 * apps) can list it as a devDependency without a cycle; the cross-package kit (fixtures, relays, CLI processes) is
 * the top-level `test/kit.ts`, which builds on this one. Browser tests import it too: nothing here touches Node's APIs
 * until a Node-only helper (Chromium launch options, `assertInNetns`) is called.
 */

export {
  CHROMIUM_ARGS,
  CHROMIUM_FAKE_MEDIA_ARGS,
  CHROMIUM_HOST_CANDIDATES_ARGS,
  type ChromiumLaunchInit,
  type ChromiumLaunchOptions,
  chromiumExecutablePath,
  chromiumLaunchOptions,
  DEFAULT_CHROMIUM_PATH
} from './chromium.ts'
export { type Discoverable, FIND_STEP_MS, type UntilFoundOptions, untilFound, untilFoundEachOther } from './dht.ts'
export { isBuiltFrom, newestMtimeMs } from './files.ts'
export { DEFAULT_EVENT_WAIT_MS, JsonLines } from './json-lines.ts'
export { assertInNetns, NETNS_COMMAND, NETNS_PEER_HOST, NETNS_RELAY_HOST, NotInNetnsError } from './netns.ts'
export {
  NoReadmeExampleError,
  README_EXAMPLE_TIMEOUT_MS,
  type ReadmeRun,
  runReadmeExample
} from './readme.ts'
export { DEFAULT_UNTIL_MS, UNTIL_POLL_MS, UntilTimeoutError, until } from './until.ts'
