import {
  type CallHandler,
  type ExecutionContext,
  Injectable,
  type NestInterceptor,
} from '@nestjs/common';
import { type Observable, tap } from 'rxjs';

export interface AuditedRequest {
  auditResourceId?: string;
}

/** Remembers the id of a resource a request created, for its audit entry. */
@Injectable()
export class AuditResourceInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle().pipe(
      tap((result: unknown) => {
        if (context.getType() !== 'http') return;
        const id = (result as { id?: unknown } | null)?.id;
        if (typeof id === 'string')
          context.switchToHttp().getRequest<AuditedRequest>().auditResourceId = id;
      }),
    );
  }
}
