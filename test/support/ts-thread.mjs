// Starts a worker thread from the TypeScript sources under vitest: registers tsx, then loads the script in argv.
import { register } from 'tsx/esm/api'

register()
await import(process.argv[2])
