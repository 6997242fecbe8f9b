import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * The GPUs this worker offers: `none`, an explicit list (`0,1,3`), or `auto`, which asks
 * `nvidia-smi` and falls back to none (a CPU-only machine offers CPU slots only).
 */
export async function detectGpus(setting: string): Promise<number[]> {
  if (setting === 'none') return [];
  if (setting !== 'auto') return setting.split(',').map(Number);
  try {
    const { stdout } = await run('nvidia-smi', ['--query-gpu=index', '--format=csv,noheader'], {
      timeout: 10_000,
    });
    return stdout
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => /^\d+$/.test(line))
      .map(Number);
  } catch {
    return [];
  }
}
