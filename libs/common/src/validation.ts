import { type ArgumentMetadata, Injectable, ValidationPipe } from '@nestjs/common';
import type { ValidationError as ClassValidatorError } from 'class-validator';

import { type FieldError, ValidationError } from './problem.js';

/**
 * The one validation pipe (registered as APP_PIPE): unknown fields are refused, payloads
 * are transformed into their DTO classes, and every bad field is named in the problem.
 */
@Injectable()
export class ClaraValidationPipe extends ValidationPipe {
  constructor() {
    super({
      whitelist: true,
      forbidNonWhitelisted: true,
      transform: true,
      transformOptions: { enableImplicitConversion: false },
      validationError: { target: false, value: false },
      exceptionFactory: (errors) => new ValidationError(flattenValidationErrors(errors)),
    });
  }

  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    try {
      return await super.transform(value, metadata);
    } catch (error) {
      if (error instanceof ValidationError) {
        const location = metadata.type === 'custom' ? undefined : metadata.type;
        const errors = (error.extensions.errors as FieldError[]).map((e) => ({
          ...e,
          in: location,
        }));
        throw new ValidationError(errors);
      }
      throw error;
    }
  }
}

export function flattenValidationErrors(errors: ClassValidatorError[], prefix = ''): FieldError[] {
  const out: FieldError[] = [];
  for (const error of errors) {
    const field = prefix ? `${prefix}.${error.property}` : error.property;
    for (const message of Object.values(error.constraints ?? {})) {
      out.push({ field, message: message.replace(/^(\S+\.)*\S+ /, `${field} `) });
    }
    if (error.children?.length) out.push(...flattenValidationErrors(error.children, field));
  }
  return out;
}
