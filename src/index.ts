// Wiring only: `feedrec serve` is the service entry point (see src/cli).
export { main } from './cli/main.js';
