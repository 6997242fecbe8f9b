import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const WORKER_MAIN = resolve(import.meta.dirname, '../../dist/apps/worker/apps/worker/src/main.js');

/** A standalone worker (`apps/worker`, as built) running as its own OS process. */
export class WorkerProcess {
  readonly child: ChildProcess;
  output = '';

  constructor(
    readonly id: string,
    env: Record<string, string>,
  ) {
    this.child = spawn(process.execPath, [WORKER_MAIN], {
      env: {
        ...process.env,
        CLARA_ENVIRONMENT: 'testing',
        CLARA_WORKER_ID: id,
        WORKER_HEALTH_PORT: '0',
        CLARA_LOG_FORMAT: 'json',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.child.stderr!.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
  }

  /** Resolves once the worker has registered (it logs that line). */
  async ready(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.output.includes(`worker ${this.id} registered`)) {
      if (this.child.exitCode !== null)
        throw new Error(`worker ${this.id} exited:\n${this.output}`);
      if (Date.now() > deadline)
        throw new Error(`worker ${this.id} did not register:\n${this.output}`);
      await sleep(50);
    }
  }

  /** Ends the process; resolves when it is gone. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill(signal);
    await exited;
  }
}
