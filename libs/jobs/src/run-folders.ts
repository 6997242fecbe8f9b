import { realpathSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';

import { Inject, Injectable } from '@nestjs/common';
import { CLARA_CONFIG, type ClaraConfig } from '@clara/config';

/** True when `path` is `root` or lies below it (after resolving `..`). */
export function isInside(root: string, path: string): boolean {
  const rel = relative(resolve(root), resolve(path));
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/**
 * Where a job's files live: `<data>/runs/<job id>/` holds `job.json`, `trainer.log`
 * (the trainer's stderr) and `output/` (checkpoints and the adapter). Every path a client
 * influences is resolved here and refused if it leaves its folder, symlinks included.
 */
@Injectable()
export class RunFolders {
  readonly dataDir: string;

  constructor(@Inject(CLARA_CONFIG) private readonly config: ClaraConfig) {
    this.dataDir = config.dataDir;
  }

  runDir(jobId: string): string {
    return join(this.dataDir, 'runs', jobId);
  }

  specPath(jobId: string): string {
    return join(this.runDir(jobId), 'job.json');
  }

  logPath(jobId: string): string {
    return join(this.runDir(jobId), 'trainer.log');
  }

  outputDir(jobId: string): string {
    return join(this.runDir(jobId), 'output');
  }

  /** A client's data-relative file path → absolute path, only if it is a file inside the data folder. */
  resolveDataFile(relativePath: string): string | undefined {
    const candidate = resolve(this.dataDir, relativePath);
    if (!isInside(this.dataDir, candidate)) return undefined;
    try {
      const real = realpathSync(candidate);
      if (!isInside(realpathSync(this.dataDir), real) || !statSync(real).isFile()) return undefined;
      return real;
    } catch {
      return undefined;
    }
  }

  /** Folders a job's local base model may be in: `<data>/models` plus the configured roots. */
  modelRoots(): string[] {
    return [join(this.dataDir, 'models'), ...this.config.trainer.modelRoots.map((r) => resolve(r))];
  }

  /** An absolute model path → its real path if it is a folder inside an allowed root. */
  resolveModelPath(path: string): string | undefined {
    try {
      const real = realpathSync(path);
      const allowed = this.modelRoots().some((root) => {
        try {
          return isInside(realpathSync(root), real);
        } catch {
          return false;
        }
      });
      return allowed && statSync(real).isDirectory() ? real : undefined;
    } catch {
      return undefined;
    }
  }

  /** A path the trainer reported, accepted only if it is inside the job's run folder. */
  insideRun(jobId: string, path: string): boolean {
    return isInside(this.runDir(jobId), path);
  }
}
