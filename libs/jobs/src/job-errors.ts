import { ConflictError, DomainError, type FieldError } from '@clara/common';

/** The job is valid but cannot run here: 422 with the reason, and nothing is queued. */
export class JobNotRunnableError extends DomainError {
  constructor(code: string, message: string, errors?: FieldError[]) {
    super(422, code, message, errors ? { errors } : {});
  }
}

export class JobStateError extends ConflictError {
  constructor(jobId: string, status: string, action: string) {
    super('job_state_conflict', `Job ${jobId} is ${status}; it cannot be ${action}`, {
      job_id: jobId,
      job_status: status,
    });
  }
}
