import { applyDecorators, UseInterceptors } from '@nestjs/common';
import { ApiConflictResponse, ApiExtension, ApiHeader } from '@nestjs/swagger';
import { ProblemDetailsDto } from '@clara/common';

import { IDEMPOTENCY_HEADER, IDEMPOTENCY_KEY_PATTERN } from './idempotency.constants.js';
import { IdempotencyInterceptor } from './idempotency.interceptor.js';

/**
 * Makes a create route honour an `Idempotency-Key` header. It attaches
 * `IdempotencyInterceptor` to this route only, so other requests pay nothing for it: a
 * retry with the same key and the same request gets the first response again, with
 * `Idempotent-Replayed: true`, and makes nothing new. Documents the header and its 409s in
 * the OpenAPI document.
 */
export const Idempotent = () =>
  applyDecorators(
    UseInterceptors(IdempotencyInterceptor),
    ApiExtension('x-clara-idempotent', true),
    ApiHeader({
      name: IDEMPOTENCY_HEADER,
      required: false,
      description:
        'Any unique string (e.g. a UUID), per caller and route. A retry with the same key and the same request replays the first response (2xx or 4xx) with `Idempotent-Replayed: true` instead of creating again; keys are kept for `idempotency.ttlHours` (24 h by default).',
      schema: { type: 'string', pattern: IDEMPOTENCY_KEY_PATTERN.source, maxLength: 255 },
    }),
    ApiConflictResponse({
      description:
        '`idempotency_key_reused`: the key was used with a different request; `idempotency_request_in_progress`: the first request with this key is still running',
      type: ProblemDetailsDto,
    }),
  );
