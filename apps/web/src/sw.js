/* Parley's service worker: the app shell (every file of the build) is cached at install, so the app loads offline.
 * Navigations and /parley.json go to the network first (a new build or relay list wins), then the cache; hashed assets
 * come from the cache first. Nothing else is touched: the node talks to relays over WebSockets, which never pass here.
 * The build (vite.config.ts) fills in the shell list and the cache version. */
const CACHE = 'parley-shell-__VERSION__'
const SHELL = __SHELL__

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((c) => c.addAll(SHELL))
      .then(() => self.skipWaiting())
  )
})

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) =>
        Promise.all(keys.filter((k) => k.startsWith('parley-shell-') && k !== CACHE).map((k) => caches.delete(k)))
      )
      .then(() => self.clients.claim())
  )
})

self.addEventListener('fetch', (event) => {
  const req = event.request
  if (req.method !== 'GET') return
  const url = new URL(req.url)
  if (url.origin !== self.location.origin) return
  const networkFirst = req.mode === 'navigate' || url.pathname.endsWith('/parley.json')
  if (networkFirst) {
    event.respondWith(
      fetch(req)
        .then((res) => {
          if (res.ok) {
            const copy = res.clone()
            void caches.open(CACHE).then((c) => c.put(req.mode === 'navigate' ? './' : req, copy))
          }
          return res
        })
        .catch(() => caches.match(req.mode === 'navigate' ? './' : req).then((hit) => hit ?? Response.error()))
    )
    return
  }
  event.respondWith(caches.match(req).then((hit) => hit ?? fetch(req)))
})
