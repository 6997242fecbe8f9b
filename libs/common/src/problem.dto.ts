import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

export class FieldErrorDto {
  @ApiProperty({ example: 'hyperparameters.learning_rate' }) field!: string;
  @ApiProperty({ example: 'hyperparameters.learning_rate must not be less than 1e-9' })
  message!: string;
  @ApiPropertyOptional({ enum: ['body', 'query', 'param', 'header', 'file'] }) in?: string;
}

/** RFC 9457 problem details, the body of every error response (`application/problem+json`). */
export class ProblemDetailsDto {
  @ApiProperty({ example: 'https://clara.dev/problems/validation_failed' }) type!: string;
  @ApiProperty({ example: 'Bad Request' }) title!: string;
  @ApiProperty({ example: 400 }) status!: number;
  @ApiPropertyOptional() detail?: string;
  @ApiPropertyOptional({ example: '/api/training/jobs' }) instance?: string;
  @ApiProperty({ example: 'validation_failed', description: 'Stable machine-readable code' })
  code!: string;
  @ApiPropertyOptional({
    description: 'The X-Request-Id of the request; quote it when reporting a problem',
  })
  request_id?: string;
  @ApiPropertyOptional({ type: [FieldErrorDto], description: 'Validation errors: every bad field' })
  errors?: FieldErrorDto[];
}
