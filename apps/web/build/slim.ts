/**
 * A Vite plugin that keeps two large data tables out of the app's JavaScript without changing what the code does
 * (docs: apps/web/README.md, "Bundle size"):
 * - kad-dht's routing-table refresh imports a 16,384-entry generated table (28 KB gzip, the largest module of the app)
 *   to turn a wanted Kademlia prefix into a key; its one lookup is rewritten to search such a key with
 *   ./kad-prefixes.ts (a random key in the bucket being refreshed, which the browser table did not give: see there).
 * - jsQR's Kanji-mode decoder carries a 7,037-entry Shift JIS → Unicode object literal (36 KB gzip of its 47 KB); it is
 *   swapped for the browser's own `TextDecoder('shift_jis')` plus the table's seven differences in the code points a
 *   QR Kanji segment can hold (0x8140–0x9FFC, 0xE040–0xEBBF) and its lack of the NEC row 0x87xx.
 * - @hpke/hybridkem-x-wing (the MLS ciphersuite's KEM) imports ML-KEM-768 and SHA-3 from `mlkem`, a second
 *   implementation of what @noble/post-quantum and @noble/hashes already ship; `mlkem` is swapped for ./mlkem.ts,
 *   the same API over the noble ones (byte-identical results).
 * Each swap fails the build if the dependency's code no longer looks as expected, so an update cannot silently skip it.
 */
import { fileURLToPath } from 'node:url'
import type { Plugin } from 'vite'

const KAD_REFRESH = /[\\/]@libp2p[\\/]kad-dht[\\/]dist[\\/]src[\\/]routing-table[\\/]refresh\.js$/
const KAD_TABLE_IMPORT = 'import GENERATED_PREFIXES from "./generated-prefix-list.js";'
const KAD_TABLE_LOOKUP = 'const keyPrefix = GENERATED_PREFIXES[targetPrefix];'
const KAD_PREFIXES = fileURLToPath(new URL('./kad-prefixes.ts', import.meta.url))
const MLKEM = fileURLToPath(new URL('./mlkem.ts', import.meta.url))
const XWING = /[\\/]@hpke[\\/]hybridkem-x-wing[\\/]/
const JSQR = /[\\/]jsqr[\\/]dist[\\/]jsQR\.js$/
const JSQR_TABLE_START = 'exports.shiftJISTable = {'
const JSQR_TABLE_END = '\n};'
/**
 * Where jsQR's table disagrees with the WHATWG Shift_JIS decoder, among the codes a Kanji segment can hold: Shift JIS
 * 0x815F, 0x8160, 0x8161, 0x817C, 0x8191, 0x8192, 0x81CA (written in decimal by the formatter).
 */
const JSQR_TABLE_DIFFERENCES = {
  33119: 0x5c,
  33120: 0x301c,
  33121: 0x2016,
  33148: 0x2212,
  33169: 0xa2,
  33170: 0xa3,
  33226: 0xac
}
export const JSQR_TABLE_SHIM = `exports.shiftJISTable = (function () {
  var diff = ${JSON.stringify(JSQR_TABLE_DIFFERENCES)};
  var decoder = new TextDecoder('shift_jis');
  return new Proxy({}, { get: function (_, key) {
    var c = Number(key);
    if (!(c >= 0x100 && c <= 0xffff) || c >> 8 === 0x87) return undefined;
    if (diff[c] !== undefined) return diff[c];
    var s = decoder.decode(Uint8Array.of(c >> 8, c & 0xff));
    return s.length === 1 && s !== '\\ufffd' ? s.charCodeAt(0) : undefined;
  } });
})();`

export function slimDependencies(): Plugin {
  return {
    name: 'parley-slim-dependencies',
    enforce: 'pre',
    resolveId(source, importer) {
      if (source === 'mlkem' && importer && XWING.test(importer)) return MLKEM
      return null
    },
    transform(code, id) {
      if (KAD_REFRESH.test(id)) {
        if (code.split(KAD_TABLE_IMPORT).length !== 2 || code.split(KAD_TABLE_LOOKUP).length !== 2)
          this.error(
            "kad-dht's refresh.js no longer looks up generated-prefix-list.js as expected: update apps/web/build/slim.ts"
          )
        return {
          code: code
            .replace(KAD_TABLE_IMPORT, `import { keyPrefixInBucket } from ${JSON.stringify(KAD_PREFIXES)};`)
            .replace(
              KAD_TABLE_LOOKUP,
              'const keyPrefix = keyPrefixInBucket(targetPrefix, targetCommonPrefixLength + 1);'
            ),
          map: null
        }
      }
      if (!JSQR.test(id)) return null
      const start = code.indexOf(JSQR_TABLE_START)
      const end = start < 0 ? -1 : code.indexOf(JSQR_TABLE_END, start)
      if (end < 0 || !code.includes('shiftJISTable_1.shiftJISTable[c]'))
        this.error("jsQR's Shift JIS table is not where it was: update apps/web/build/slim.ts")
      return { code: code.slice(0, start) + JSQR_TABLE_SHIM + code.slice(end + JSQR_TABLE_END.length), map: null }
    }
  }
}
