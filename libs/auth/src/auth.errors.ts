import { DomainError } from '@clara/common';

export class UnauthorizedError extends DomainError {
  constructor(code: string, message: string) {
    super(401, code, message);
  }
}

export class ForbiddenError extends DomainError {
  constructor(code: string, message: string, extensions: Record<string, unknown> = {}) {
    super(403, code, message, extensions);
  }
}
