export { createLogger, LOG_REDACT_PATHS, type LoggerOptions, PinoNestLogger } from './logger.js';
export {
  decodeCursor,
  DEFAULT_PAGE_LIMIT,
  encodeCursor,
  MAX_PAGE_LIMIT,
  type Page,
  PageQueryDto,
  toPage,
} from './pagination.js';
export {
  ConflictError,
  DomainError,
  type FieldError,
  NotFoundError,
  PROBLEM_CONTENT_TYPE,
  PROBLEM_TYPE_BASE,
  type ProblemDetails,
  ServiceUnavailableError,
  statusTitle,
  ValidationError,
} from './problem.js';
export { FieldErrorDto, ProblemDetailsDto } from './problem.dto.js';
export { ProblemDetailsFilter, toProblem } from './problem-details.filter.js';
export {
  currentRequestId,
  type RequestContext,
  requestIdFrom,
  runWithRequestContext,
} from './request-context.js';
export { newId } from './ids.js';
export { isoNow, toIso } from './time.js';
export { ClaraValidationPipe, flattenValidationErrors } from './validation.js';
