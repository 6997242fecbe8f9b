/** RFC 9457 problem details, as Clara sends them (`application/problem+json`). */
export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  /** Stable machine-readable error code, e.g. `job_not_found`. */
  code: string;
  request_id?: string;
  /** Present on validation errors: one entry per bad field. */
  errors?: FieldError[];
  [extension: string]: unknown;
}

export interface FieldError {
  /** Dotted path of the field in the request, e.g. `hyperparameters.learning_rate`. */
  field: string;
  message: string;
  /** Where the field was: `body`, `query`, `params`, `header` or `file`. */
  in?: string;
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
export const PROBLEM_TYPE_BASE = 'https://clara.dev/problems/';

/**
 * A failure the caller can act on. Services throw these; one global filter maps them to
 * problem+json, so no controller formats errors itself.
 */
export class DomainError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export class NotFoundError extends DomainError {
  constructor(resource: string, id: string) {
    super(404, `${resource}_not_found`, `${resource} '${id}' does not exist`, { resource, id });
  }
}

export class ConflictError extends DomainError {
  constructor(code: string, message: string, extensions: Record<string, unknown> = {}) {
    super(409, code, message, extensions);
  }
}

export class ValidationError extends DomainError {
  constructor(errors: FieldError[], message = 'The request is invalid') {
    super(400, 'validation_failed', message, { errors });
  }
}

export class ServiceUnavailableError extends DomainError {
  constructor(code: string, message: string, extensions: Record<string, unknown> = {}) {
    super(503, code, message, extensions);
  }
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  409: 'Conflict',
  410: 'Gone',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export function statusTitle(status: number): string {
  return TITLES[status] ?? (status >= 500 ? 'Server Error' : 'Client Error');
}
