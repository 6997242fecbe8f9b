// Preloaded (`node --import`) into a Clara process when a benchmark runs with --profile DIR:
// SIGWINCH writes the CPU profile taken since the previous SIGWINCH (if any) and starts a new
// one, named after the text in DIR/label at that moment; SIGTERM and exit write the current
// one. Open the .cpuprofile files in Chrome DevTools, or summarise them with
// `node bench/lib/profile-summary.mjs FILE`. Profiling costs throughput: diagnosis only.
import { Session } from 'node:inspector';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.env.BENCH_CPU_PROFILE_DIR;
if (dir) {
  mkdirSync(dir, { recursive: true });
  const session = new Session();
  session.connect();
  // A session on the main thread answers synchronously, so this works inside signal handlers.
  const post = (method, params = {}) => {
    let result;
    let failure;
    session.post(method, params, (error, value) => {
      failure = error;
      result = value;
    });
    if (failure) throw failure;
    return result;
  };
  post('Profiler.enable');
  post('Profiler.setSamplingInterval', { interval: 250 });

  let current = null;
  let seq = 0;
  const label = () => {
    try {
      return readFileSync(join(dir, 'label'), 'utf8')
        .trim()
        .replace(/[^A-Za-z0-9._-]+/g, '_');
    } catch {
      return 'profile';
    }
  };
  const flush = () => {
    if (!current) return;
    const { profile } = post('Profiler.stop');
    writeFileSync(join(dir, `${current}.cpuprofile`), JSON.stringify(profile));
    current = null;
  };
  // Not SIGUSR2: Nest's enableShutdownHooks() shuts the app down on that one.
  process.on('SIGWINCH', () => {
    flush();
    current = `${String(++seq).padStart(2, '0')}-${label()}-${process.pid}`;
    post('Profiler.start');
  });
  // Once: Nest re-raises SIGTERM after closing the app, and that one must end the process.
  process.prependOnceListener('SIGTERM', flush);
  process.on('exit', flush);
}
