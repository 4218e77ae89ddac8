/**
 * The web app's build: Preact JSX through Vite 8's built-in (oxc) transform, the browser export conditions of the
 * Parley packages, build/slim.ts (two dependency tables swapped for code that computes them), and one tiny plugin that writes the service worker's shell list (every emitted file) into sw.js.
 */
import { readFileSync } from 'node:fs'
import { defineConfig, type Plugin } from 'vite'
import { slimDependencies } from './build/slim.ts'

/** Emits sw.js from src/sw.js with the build's file list and a version derived from it (new build, new cache). */
function serviceWorker(): Plugin {
  return {
    name: 'parley-sw',
    apply: 'build',
    generateBundle(_options, bundle) {
      const files = Object.keys(bundle).filter((f) => !f.endsWith('.map'))
      const icons = ['./icon.svg', './icon-192.png', './icon-512.png']
      const shell = ['./', ...files.map((f) => `./${f}`), './manifest.webmanifest', ...icons]
      const version = files.sort().join('|')
      let hash = 0
      for (let i = 0; i < version.length; i++) hash = (Math.imul(hash, 31) + version.charCodeAt(i)) | 0
      const source = readFileSync(new URL('./src/sw.js', import.meta.url), 'utf8')
        .replace('__SHELL__', JSON.stringify(shell))
        .replace('__VERSION__', (hash >>> 0).toString(16))
      this.emitFile({ type: 'asset', fileName: 'sw.js', source })
    }
  }
}

export default defineConfig({
  base: './',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: { target: 'es2022', outDir: 'dist', emptyOutDir: true, sourcemap: false, chunkSizeWarningLimit: 2000 },
  plugins: [slimDependencies(), serviceWorker()]
})
