// HTTP load with autocannon (keep-alive connections, no pipelining), to 127.0.0.1 only.
//
// autocannon's own latency histogram has 1 ms resolution, too coarse for sub-millisecond
// routes, so every response time (float ms from process.hrtime) is also kept here and the
// percentiles are computed from those. Each run is bounded by `durationS`.
import autocannon from 'autocannon';

import { cpuSeconds } from './proc.mjs';
import { percentile } from './stats.mjs';

/**
 * One load phase. Without `rate`, as fast as `connections` keep-alive connections go (the
 * closed-loop maximum); with `rate`, a fixed overall request rate (open-loop-ish: autocannon
 * paces the requests; a connection still waits for its response before sending the next).
 * With `serverPid`, also the CPU time that process used per answered request
 * (`serverCpuUsPerRequest`): steadier than req/s on a machine other work shares.
 */
export function runLoad({
  url,
  headers = {},
  connections,
  durationS,
  rate,
  expectStatus = 200,
  serverPid,
}) {
  assertLoopback(url);
  const cpuBefore = serverPid ? cpuSeconds(serverPid) : 0;
  const times = [];
  let unexpected = 0;
  let firstUnexpected = null;
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url,
        headers,
        connections,
        duration: durationS,
        pipelining: 1,
        timeout: 10,
        ...(rate ? { overallRate: Math.max(1, Math.round(rate)) } : {}),
      },
      (error, result) => {
        if (error) return reject(error);
        const seconds = result.duration || durationS;
        const cpuUsed = serverPid ? cpuSeconds(serverPid) - cpuBefore : NaN;
        times.sort((a, b) => a - b);
        resolve({
          connections,
          targetRate: rate ?? null,
          durationS: seconds,
          requests: times.length,
          rps: times.length / seconds,
          serverCpuUsPerRequest: times.length ? (cpuUsed * 1e6) / times.length : NaN,
          serverCpuShare: cpuUsed / seconds,
          p50: percentile(times, 0.5),
          p90: percentile(times, 0.9),
          p99: percentile(times, 0.99),
          max: times.length ? times[times.length - 1] : NaN,
          unexpected,
          firstUnexpected,
          errors: result.errors,
          timeouts: result.timeouts,
        });
      },
    );
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode === expectStatus) times.push(responseTime);
      else {
        unexpected++;
        firstUnexpected ??= statusCode;
      }
    });
  });
}

/**
 * The closed-loop maximum over a few connection counts: the level with the highest rate
 * wins (its latencies are the "at max load" ones). `levels` is e.g. [10, 50].
 */
export async function maxLoad({ url, headers, levels, durationS, serverPid }) {
  const runs = [];
  for (const connections of levels) {
    runs.push(await runLoad({ url, headers, connections, durationS, serverPid }));
  }
  const best = runs.reduce((a, b) => (b.rps > a.rps ? b : a));
  return { best, runs };
}

export function assertLoopback(url) {
  const host = new URL(url).hostname;
  if (!(host === 'localhost' || host === '[::1]' || /^127\./.test(host))) {
    throw new Error(`refusing to send load to ${host}: benchmarks target the loopback only`);
  }
}
