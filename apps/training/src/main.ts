import { setFlagsFromString } from 'node:v8';

// Loading the module graph is an allocation burst that makes V8 grow its young generation
// to 2 × 16 MB and keep it: ~25 MB of memory an idle service never uses. Growth is off
// while the service starts and back on (V8's default factor) once it serves, so a busy
// service still gets a large young generation (docs/performance.md, "Idle memory").
setFlagsFromString('--semi-space-growth-factor=1');
await import('./start.js');
setFlagsFromString('--semi-space-growth-factor=2');
