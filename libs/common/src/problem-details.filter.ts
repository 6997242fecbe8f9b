import {
  type ArgumentsHost,
  Catch,
  type ExceptionFilter,
  HttpException,
  Logger,
} from '@nestjs/common';

import {
  DomainError,
  PROBLEM_CONTENT_TYPE,
  PROBLEM_TYPE_BASE,
  type ProblemDetails,
  statusTitle,
} from './problem.js';
import { currentRequestId } from './request-context.js';

interface ReplyLike {
  status(code: number): ReplyLike;
  header(name: string, value: string): ReplyLike;
  send(body: unknown): unknown;
  sent?: boolean;
}

interface RequestLike {
  url?: string;
  id?: string;
}

/**
 * Maps every error to RFC 9457 problem+json, once, for the whole app. A 5xx says nothing
 * internal; its request id is the one the log line carries.
 */
@Catch()
export class ProblemDetailsFilter implements ExceptionFilter {
  private readonly logger = new Logger('ProblemDetailsFilter');

  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') throw exception;
    const http = host.switchToHttp();
    const reply = http.getResponse<ReplyLike>();
    const request = http.getRequest<RequestLike>();
    const problem = toProblem(exception);
    problem.instance = request.url?.split('?')[0];
    problem.request_id = currentRequestId() ?? request.id;

    if (problem.status >= 500) {
      this.logger.error(exception instanceof Error ? exception : String(exception));
    }
    if (reply.sent) return;
    reply.status(problem.status).header('content-type', PROBLEM_CONTENT_TYPE).send(problem);
  }
}

export function toProblem(exception: unknown): ProblemDetails {
  if (exception instanceof DomainError) {
    return problem(exception.status, exception.code, exception.message, exception.extensions);
  }
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    const response = exception.getResponse();
    const detail =
      typeof response === 'string'
        ? response
        : ((response as { message?: unknown }).message ?? exception.message);
    const extensions =
      typeof response === 'object' && response !== null
        ? pickExtensions(response as Record<string, unknown>)
        : {};
    return problem(
      status,
      (extensions.code as string | undefined) ?? codeFor(status),
      Array.isArray(detail)
        ? detail.join('; ')
        : typeof detail === 'string'
          ? detail
          : exception.message,
      extensions,
    );
  }
  // Fastify's own errors (bad JSON, body too large, wrong content type) carry a statusCode.
  const fastifyError = exception as { statusCode?: unknown; code?: string; message?: string };
  if (typeof fastifyError?.statusCode === 'number' && fastifyError.statusCode < 500) {
    return problem(
      fastifyError.statusCode,
      fastifyCode(fastifyError.code ?? '', fastifyError.statusCode),
      fastifyError.message ?? statusTitle(fastifyError.statusCode),
    );
  }
  return problem(
    500,
    'internal_error',
    'An unexpected error occurred; quote the request id when reporting it',
  );
}

function problem(
  status: number,
  code: string,
  detail: string,
  extensions: Record<string, unknown> = {},
): ProblemDetails {
  return {
    type: `${PROBLEM_TYPE_BASE}${code}`,
    title: statusTitle(status),
    status,
    detail,
    code,
    ...extensions,
  };
}

/** Extra members of an HttpException's body; never ones that would overwrite the problem's own. */
function pickExtensions(response: Record<string, unknown>): Record<string, unknown> {
  const reserved = new Set([
    'message',
    'statusCode',
    'status',
    'type',
    'title',
    'detail',
    'instance',
    'request_id',
  ]);
  const rest = Object.fromEntries(Object.entries(response).filter(([key]) => !reserved.has(key)));
  // Terminus puts its verdict in `error` (an object); Nest puts a title string there.
  if (typeof rest.error === 'string') delete rest.error;
  return rest;
}

function codeFor(status: number): string {
  return statusTitle(status)
    .toLowerCase()
    .replace(/[^a-z]+/g, '_');
}

function fastifyCode(code: string, status: number): string {
  if (code === 'FST_ERR_CTP_INVALID_JSON_BODY' || code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
    return 'invalid_json';
  }
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') return 'body_too_large';
  if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return 'unsupported_media_type';
  return codeFor(status);
}
