/**
 * Typed access to the Wycheproof files in test/vectors/wycheproof. They are loaded with a dynamic import: Vite turns
 * it into JSON modules in both vitest projects (Node and Chromium), and unlike a static JSON import it does not
 * make `tsc -b` type (or list in the project) megabytes of JSON.
 */
import { fromString as uint8ArrayFromString, toString as uint8ArrayToString } from 'uint8arrays'

/** Fields every Wycheproof test case has. */
export interface WycheproofTest {
  readonly tcId: number
  readonly comment?: string
  readonly flags: readonly string[]
  readonly result: 'valid' | 'invalid' | 'acceptable'
}

/** A Wycheproof file: its declared test count and its groups. */
export interface WycheproofFile<G extends { tests: readonly WycheproofTest[] }> {
  readonly algorithm: string
  readonly numberOfTests: number
  readonly testGroups: readonly G[]
}

export interface XdhTest extends WycheproofTest {
  readonly public: string
  readonly private: string
  readonly shared: string
}
export interface XdhGroup {
  readonly curve: string
  readonly tests: readonly XdhTest[]
}

export interface EddsaTest extends WycheproofTest {
  readonly msg: string
  readonly sig: string
}
export interface EddsaGroup {
  readonly publicKey: { readonly pk: string }
  readonly tests: readonly EddsaTest[]
}

export interface AeadTest extends WycheproofTest {
  readonly key: string
  readonly iv: string
  readonly aad: string
  readonly msg: string
  readonly ct: string
  readonly tag: string
}
export interface AeadGroup {
  readonly keySize: number
  readonly ivSize: number
  readonly tagSize: number
  readonly tests: readonly AeadTest[]
}

export interface HkdfTest extends WycheproofTest {
  readonly ikm: string
  readonly salt: string
  readonly info: string
  readonly size: number
  readonly okm: string
}
export interface HkdfGroup {
  readonly tests: readonly HkdfTest[]
}

export interface MacTest extends WycheproofTest {
  readonly key: string
  readonly msg: string
  readonly tag: string
}
export interface MacGroup {
  readonly keySize: number
  readonly tagSize: number
  readonly tests: readonly MacTest[]
}

/** mlkem_test_schema: decapsulation from a 64-byte seed (d || z), with the encapsulation key it yields. */
export interface MlKemTest extends WycheproofTest {
  readonly seed: string
  readonly ek?: string
  readonly c: string
  readonly K: string
}
export interface MlKemGroup {
  readonly parameterSet: string
  readonly tests: readonly MlKemTest[]
}

/** mlkem_encaps_test_schema: encapsulation to `ek` with the message randomness `m`. */
export interface MlKemEncapsTest extends WycheproofTest {
  readonly ek: string
  readonly m: string
  readonly c?: string
  readonly K?: string
}
export interface MlKemEncapsGroup {
  readonly parameterSet: string
  readonly tests: readonly MlKemEncapsTest[]
}

/** Loads test/vectors/wycheproof/`name`.json. */
export async function loadWycheproof<G extends { tests: readonly WycheproofTest[] }>(
  name: string
): Promise<WycheproofFile<G>> {
  const module = (await import(`../vectors/wycheproof/${name}.json`)) as { default: WycheproofFile<G> }
  return module.default
}

/** Every test case of a file, each with its group. */
export function casesOf<G extends { tests: readonly WycheproofTest[] }>(
  file: WycheproofFile<G>
): { group: G; test: G['tests'][number] }[] {
  return file.testGroups.flatMap((group) => group.tests.map((test) => ({ group, test })))
}

/** Decodes lower- or upper-case hex. */
export function hex(text: string): Uint8Array {
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) throw new TypeError('not hex')
  return uint8ArrayFromString(text.toLowerCase(), 'base16')
}

/** Encodes lower-case hex. */
export function toHex(bytes: Uint8Array): string {
  return uint8ArrayToString(bytes, 'base16')
}
