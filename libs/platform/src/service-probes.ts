import { Injectable } from '@nestjs/common';

export type ReadinessCheck = () => Promise<Record<string, unknown> | void>;
export type StatusContributor = () => Promise<Record<string, unknown>> | Record<string, unknown>;

/**
 * Feature modules register what `/health/ready` must check (each configured store) and
 * what the service's status route reports (e.g. the job queue), without the platform
 * knowing about features.
 */
@Injectable()
export class ServiceProbes {
  private readonly readiness = new Map<string, ReadinessCheck>();
  private readonly status = new Map<string, StatusContributor>();

  addReadinessCheck(name: string, check: ReadinessCheck): void {
    this.readiness.set(name, check);
  }

  removeReadinessCheck(name: string): void {
    this.readiness.delete(name);
  }

  addStatusContributor(name: string, contributor: StatusContributor): void {
    this.status.set(name, contributor);
  }

  readinessChecks(): [string, ReadinessCheck][] {
    return [...this.readiness.entries()];
  }

  async collectStatus(): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = {};
    for (const contributor of this.status.values()) Object.assign(out, await contributor());
    return out;
  }
}
