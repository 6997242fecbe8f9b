import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { createInterface } from 'node:readline';

export interface TrainerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the program could not be started at all (e.g. it does not exist). */
  spawnError?: string;
}

export interface TrainerProcessOptions {
  /** argv: the program and its arguments. Never run through a shell. */
  command: string[];
  cwd: string;
  env: Record<string, string>;
  logPath: string;
  onStdoutLine: (line: string) => void;
  onStderrLine: (line: string) => void;
}

/**
 * One trainer process in its own process group, so a stop reaches everything it started
 * (dataloader workers, torch compile helpers): SIGTERM to the group, then SIGKILL after
 * the grace period. stderr is appended to the run's log file as it arrives.
 */
export class TrainerProcess {
  readonly exited: Promise<TrainerExit>;
  private readonly child: ChildProcess;
  private readonly log: WriteStream;
  private killTimer?: NodeJS.Timeout;

  constructor(options: TrainerProcessOptions) {
    const [program, ...args] = options.command;
    this.log = createWriteStream(options.logPath, { flags: 'a' });
    this.child = spawn(program, args, {
      cwd: options.cwd,
      env: options.env,
      detached: true,
      shell: false,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const stdout = createInterface({ input: this.child.stdout!, crlfDelay: Infinity });
    stdout.on('line', options.onStdoutLine);
    this.child.stderr!.on('data', (chunk: Buffer) => this.log.write(chunk));
    const stderr = createInterface({ input: this.child.stderr!, crlfDelay: Infinity });
    stderr.on('line', options.onStderrLine);

    const streamsClosed = Promise.all([
      new Promise((resolve) => stdout.once('close', resolve)),
      new Promise((resolve) => stderr.once('close', resolve)),
    ]);
    this.exited = new Promise<TrainerExit>((resolve) => {
      this.child.once('error', (error) => {
        this.log.write(`failed to start trainer ${program}: ${error.message}\n`);
        resolve({ code: null, signal: null, spawnError: `${program}: ${error.message}` });
      });
      this.child.once('exit', (code, signal) => {
        clearTimeout(this.killTimer);
        // Leftover children of the trainer must not outlive it (or hold its pipes open).
        this.signalGroup('SIGKILL');
        // Read every line the process wrote before reporting the exit.
        const drained = Promise.race([
          streamsClosed,
          new Promise((r) => setTimeout(r, 5000).unref()),
        ]);
        void drained.then(() => this.log.end(() => resolve({ code, signal })));
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** SIGTERM the group now (the trainer checkpoints), SIGKILL it after `graceSeconds`. */
  stop(graceSeconds: number): void {
    // Repeated stop requests (every heartbeat sees `cancelling`) must not restart the grace period.
    if (this.killTimer || this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.signalGroup('SIGTERM');
    this.killTimer = setTimeout(() => this.signalGroup('SIGKILL'), graceSeconds * 1000);
    this.killTimer.unref();
  }

  kill(): void {
    this.signalGroup('SIGKILL');
  }

  private signalGroup(signal: NodeJS.Signals): void {
    const pid = this.child.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // The group is already gone.
    }
  }
}
