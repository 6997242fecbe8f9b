import { describe, expect, it } from '@jest/globals';

import { MetricsService } from './metrics.service.js';

describe('MetricsService', () => {
  it('writes the HTTP counter and a cumulative latency histogram per series', async () => {
    const metrics = new MetricsService();
    metrics.observeRequest('GET', '/health/live', 200, 0.0004);
    metrics.observeRequest('GET', '/health/live', 200, 0.003);
    metrics.observeRequest('GET', '/health/live', 200, 20);
    metrics.observeRequest('POST', '/api/training/jobs', 201, 0.01);

    const text = await metrics.text();
    const live = 'method="GET",route="/health/live",status="200"';
    expect(text).toContain('# TYPE clara_http_requests_total counter');
    expect(text).toContain(`clara_http_requests_total{${live}} 3\n`);
    expect(text).toContain(
      'clara_http_requests_total{method="POST",route="/api/training/jobs",status="201"} 1\n',
    );
    expect(text).toContain('# TYPE clara_http_request_duration_seconds histogram');
    expect(text).toContain(`clara_http_request_duration_seconds_bucket{le="0.001",${live}} 1\n`);
    expect(text).toContain(`clara_http_request_duration_seconds_bucket{le="0.0025",${live}} 1\n`);
    expect(text).toContain(`clara_http_request_duration_seconds_bucket{le="0.005",${live}} 2\n`);
    expect(text).toContain(`clara_http_request_duration_seconds_bucket{le="10",${live}} 2\n`);
    expect(text).toContain(`clara_http_request_duration_seconds_bucket{le="+Inf",${live}} 3\n`);
    expect(text).toContain(`clara_http_request_duration_seconds_count{${live}} 3\n`);
    expect(text).toMatch(
      new RegExp(`clara_http_request_duration_seconds_sum\\{${live}\\} 20\\.003`),
    );
    // Process metrics still come from prom-client, with the clara_ prefix.
    expect(text).toContain('# TYPE clara_process_cpu_seconds_total counter');
  });

  it('escapes label values', async () => {
    const metrics = new MetricsService();
    metrics.observeRequest('GET', 'a"b\\c\nd', 404, 0.001);
    expect(await metrics.text()).toContain(
      'clara_http_requests_total{method="GET",route="a\\"b\\\\c\\nd",status="404"} 1\n',
    );
  });
});
