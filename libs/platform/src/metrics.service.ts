import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Registry } from 'prom-client';

const REQUESTS = 'clara_http_requests_total';
const LATENCY = 'clara_http_request_duration_seconds';
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** One method + route template + status: its request count and latency histogram. */
interface HttpSeries {
  labels: string;
  count: number;
  sum: number;
  /** Observations per bucket (not cumulative); the last slot is above the largest bound. */
  buckets: number[];
}

/**
 * Prometheus metrics of one app instance (tests start several apps in one process).
 * Process metrics come from prom-client's default collectors. The HTTP request counter and
 * latency histogram are kept here as plain numbers and written in the exposition format at
 * scrape time: prom-client re-validates and re-hashes the labels of every observation,
 * which cost more than the rest of a small request's bookkeeping.
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();
  private readonly series = new Map<string, HttpSeries>();

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'clara_' });
  }

  observeRequest(method: string, route: string, status: number, seconds: number): void {
    const key = `${method} ${status} ${route}`;
    let series = this.series.get(key);
    if (!series) {
      series = {
        labels: `method="${escapeLabel(method)}",route="${escapeLabel(route)}",status="${status}"`,
        count: 0,
        sum: 0,
        buckets: new Array<number>(BUCKETS.length + 1).fill(0),
      };
      this.series.set(key, series);
    }
    series.count += 1;
    series.sum += seconds;
    let slot = 0;
    while (slot < BUCKETS.length && seconds > BUCKETS[slot]) slot++;
    series.buckets[slot] += 1;
  }

  /** The whole exposition: process metrics, then the HTTP series. */
  async text(): Promise<string> {
    return (await this.registry.metrics()) + this.httpText();
  }

  private httpText(): string {
    const lines = [
      `# HELP ${REQUESTS} HTTP requests handled, by route template and status code`,
      `# TYPE ${REQUESTS} counter`,
    ];
    for (const s of this.series.values()) lines.push(`${REQUESTS}{${s.labels}} ${s.count}`);
    lines.push(
      `# HELP ${LATENCY} HTTP request latency, by route template and status code`,
      `# TYPE ${LATENCY} histogram`,
    );
    for (const s of this.series.values()) {
      let cumulative = 0;
      BUCKETS.forEach((bound, i) => {
        cumulative += s.buckets[i];
        lines.push(`${LATENCY}_bucket{le="${bound}",${s.labels}} ${cumulative}`);
      });
      lines.push(`${LATENCY}_bucket{le="+Inf",${s.labels}} ${s.count}`);
      lines.push(`${LATENCY}_sum{${s.labels}} ${s.sum}`);
      lines.push(`${LATENCY}_count{${s.labels}} ${s.count}`);
    }
    return lines.join('\n') + '\n';
  }
}

/** Label values escape backslash, double quote and line feed (exposition format 0.0.4). */
function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
