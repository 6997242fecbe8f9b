// Builds the deployables that tests start as real processes (the standalone worker).
import { execFileSync } from 'node:child_process';

export default function globalSetup() {
  execFileSync('npx', ['nest', 'build', 'worker'], { stdio: ['ignore', 'ignore', 'inherit'] });
}
