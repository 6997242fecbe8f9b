// Builds the deployables that tests start as real processes (the standalone worker, the CLI).
import { execFileSync } from 'node:child_process';

export default function globalSetup() {
  for (const app of ['worker', 'cli']) {
    execFileSync('npx', ['nest', 'build', app], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
}
