import {
  type CallHandler,
  type ExecutionContext,
  Inject,
  Injectable,
  Logger,
  type NestInterceptor,
} from '@nestjs/common';
import type { Principal } from '@clara/auth';
import {
  ConflictError,
  currentRequestId,
  PROBLEM_CONTENT_TYPE,
  toProblem,
  ValidationError,
} from '@clara/common';
import { CLARA_CONFIG, type ClaraConfig } from '@clara/config';
import { catchError, defer, mergeMap, type Observable, of, throwError } from 'rxjs';

import {
  IDEMPOTENCY_HEADER,
  IDEMPOTENCY_KEY_PATTERN,
  IDEMPOTENT_REPLAYED_HEADER,
} from './idempotency.constants.js';
import { type FingerprintedRequest, requestFingerprint } from './idempotency.fingerprint.js';
import { type IdempotencyClaim, IdempotencyRepository } from './idempotency.repository.js';
import { SERVICE_NAME } from './platform.tokens.js';

interface IdempotentRequest extends FingerprintedRequest {
  id?: string;
  method: string;
  url: string;
  routeOptions?: { url?: string };
  principal?: Principal;
}

interface ReplyLike {
  statusCode: number;
  status(code: number): unknown;
  header(name: string, value: string): unknown;
}

/**
 * `Idempotency-Key` for the routes `@Idempotent()` attaches it to (no other route runs it).
 * The first request with a key claims it and runs; its response is stored when it is 2xx
 * or 4xx (a 5xx gives the key up, so the client may retry). A later request with the key
 * gets the stored response replayed with `Idempotent-Replayed: true` when it is the same
 * request, 409 `idempotency_key_reused` when it is not, and 409
 * `idempotency_request_in_progress` while the first is still running.
 */
@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
  private readonly logger = new Logger('Idempotency');

  constructor(
    private readonly keys: IdempotencyRepository,
    @Inject(SERVICE_NAME) private readonly service: string,
    @Inject(CLARA_CONFIG) private readonly config: ClaraConfig,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const http = context.switchToHttp();
    const request = http.getRequest<IdempotentRequest>();
    const reply = http.getResponse<ReplyLike>();

    const raw = request.headers[IDEMPOTENCY_HEADER.toLowerCase()];
    if (raw === undefined) return next.handle();
    const key = Array.isArray(raw) ? raw.join(', ') : raw;
    if (!IDEMPOTENCY_KEY_PATTERN.test(key)) {
      return throwError(
        () =>
          new ValidationError(
            [
              {
                field: IDEMPOTENCY_HEADER,
                message: 'must be 1-255 characters of A-Z a-z 0-9 . _ : -',
                in: 'header',
              },
            ],
            `The ${IDEMPOTENCY_HEADER} header is invalid`,
          ),
      );
    }

    const scope = {
      subject: request.principal?.subject ?? 'anonymous',
      service: this.service,
      route: `${request.method} ${request.routeOptions?.url ?? request.url.split('?')[0]}`,
      key,
    };
    const requestId = currentRequestId() ?? request.id ?? null;
    return defer(() =>
      this.keys.claim(scope, requestFingerprint(request), requestId, this.ttlMs()),
    ).pipe(mergeMap((claim) => this.proceed(claim, request, reply, next)));
  }

  private proceed(
    claim: IdempotencyClaim,
    request: IdempotentRequest,
    reply: ReplyLike,
    next: CallHandler,
  ): Observable<unknown> {
    switch (claim.outcome) {
      case 'reused':
        return throwError(
          () =>
            new ConflictError(
              'idempotency_key_reused',
              `This ${IDEMPOTENCY_HEADER} was already used with a different request`,
            ),
        );
      case 'in_progress':
        reply.header('retry-after', '1');
        return throwError(
          () =>
            new ConflictError(
              'idempotency_request_in_progress',
              `A request with this ${IDEMPOTENCY_HEADER} is still being processed; retry shortly`,
            ),
        );
      case 'replay':
        reply.status(claim.statusCode);
        reply.header(IDEMPOTENT_REPLAYED_HEADER.toLowerCase(), 'true');
        if (claim.statusCode >= 400) reply.header('content-type', PROBLEM_CONTENT_TYPE);
        return of(claim.body === null ? undefined : (JSON.parse(claim.body) as unknown));
      case 'claimed':
        return next.handle().pipe(
          catchError((error: unknown) =>
            defer(() => this.settleFailure(claim.id, error, request)).pipe(
              mergeMap(() => throwError(() => error)),
            ),
          ),
          mergeMap(async (result: unknown) => {
            await this.settle(claim.id, () =>
              this.keys.complete(
                claim.id,
                reply.statusCode,
                result === undefined ? null : JSON.stringify(result),
                this.ttlMs(),
              ),
            );
            return result;
          }),
        );
    }
  }

  /** A 4xx is stored as the problem the client gets; a 5xx gives the key up. */
  private async settleFailure(id: string, error: unknown, request: IdempotentRequest) {
    const problem = toProblem(error);
    if (problem.status >= 500) {
      await this.settle(id, () => this.keys.release(id));
      return;
    }
    problem.instance = request.url.split('?')[0];
    problem.request_id = currentRequestId() ?? request.id;
    await this.settle(id, () =>
      this.keys.complete(id, problem.status, JSON.stringify(problem), this.ttlMs()),
    );
  }

  /**
   * The response goes out even if it cannot be stored; the key then stays claimed until it
   * expires (a retry gets 409 in progress, never a second resource).
   */
  private async settle(id: string, step: () => Promise<void>): Promise<void> {
    try {
      await step();
    } catch (error) {
      this.logger.error(
        `could not store the outcome of idempotency key ${id}: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }

  private ttlMs(): number {
    return this.config.idempotency.ttlHours * 3_600_000;
  }
}
