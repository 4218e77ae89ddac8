// Runs on whatever Node starts the install (Node 20 on a fresh machine): only checks the package manager.
const ua = process.env.npm_config_user_agent || ''
if (!ua.startsWith('pnpm/')) {
  console.error('Parley is a pnpm workspace. Install with:  npm install -g pnpm@10 && pnpm install')
  process.exit(1)
}
