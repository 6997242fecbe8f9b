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

  /** What the contributors report; synchronous when they all are (the common case). */
  collectStatus(): Record<string, unknown> | Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = {};
    const pending: Promise<Record<string, unknown>>[] = [];
    for (const contributor of this.status.values()) {
      const part = contributor();
      if (part instanceof Promise) pending.push(part);
      else Object.assign(out, part);
    }
    if (pending.length === 0) return out;
    return Promise.all(pending).then((parts) => Object.assign(out, ...parts) as typeof out);
  }
}
