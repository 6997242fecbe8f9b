import {
  Body,
  Controller,
  Delete,
  Get,
  Headers,
  HttpCode,
  Param,
  ParseUUIDPipe,
  Post,
  Query,
  Res,
} from '@nestjs/common';
import {
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiHeader,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiUnprocessableEntityResponse,
} from '@nestjs/swagger';
import { CurrentPrincipal, ForAdmins, ForReaders, ForTrainers, type Principal } from '@clara/auth';
import { ValidationError } from '@clara/common';

import { CreateJobDto, JobDto, JobPageDto, ListJobsQueryDto } from './jobs.dto.js';
import { JobsService } from './jobs.service.js';

interface ReplyHeaders {
  header(name: string, value: string): unknown;
}

const IDEMPOTENCY_KEY = /^[A-Za-z0-9._:-]{1,255}$/;
const uuid = new ParseUUIDPipe({ version: '7', errorHttpStatusCode: 404 });

@ApiTags('jobs')
@Controller('jobs')
export class JobsController {
  constructor(private readonly jobs: JobsService) {}

  @Post()
  @ForTrainers()
  @ApiOperation({ operationId: 'createJob', summary: 'Queue a LoRA/QLoRA fine-tuning job' })
  @ApiHeader({
    name: 'Idempotency-Key',
    required: false,
    description: 'A retried request with the same key returns the same job',
  })
  @ApiCreatedResponse({ type: JobDto })
  @ApiUnprocessableEntityResponse({
    description: 'No worker could ever run this job (e.g. too many GPUs)',
  })
  @ApiConflictResponse({ description: 'The Idempotency-Key was used with a different body' })
  async create(
    @CurrentPrincipal() principal: Principal,
    @Body() body: CreateJobDto,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @Res({ passthrough: true }) reply: ReplyHeaders,
  ): Promise<JobDto> {
    if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
      throw new ValidationError([
        {
          field: 'Idempotency-Key',
          message: 'must be 1-255 characters of [A-Za-z0-9._:-]',
          in: 'header',
        },
      ]);
    }
    const { job, replayed } = await this.jobs.create(principal, body, idempotencyKey);
    if (replayed) reply.header('idempotent-replayed', 'true');
    return job;
  }

  @Get()
  @ForReaders()
  @ApiOperation({ operationId: 'listJobs', summary: 'List jobs, newest first' })
  @ApiOkResponse({ type: JobPageDto })
  list(@Query() query: ListJobsQueryDto): Promise<JobPageDto> {
    return this.jobs.list(query);
  }

  @Get(':id')
  @ForReaders()
  @ApiOperation({
    operationId: 'getJob',
    summary: 'A job with its queue position, worker, progress and error',
  })
  @ApiOkResponse({ type: JobDto })
  @ApiNotFoundResponse()
  get(@Param('id', uuid) id: string): Promise<JobDto> {
    return this.jobs.get(id);
  }

  @Post(':id/cancel')
  @ForTrainers()
  @HttpCode(200)
  @ApiOperation({
    operationId: 'cancelJob',
    summary: 'Cancel a job (owner or admin): queued at once, running via `cancelling`',
  })
  @ApiOkResponse({ type: JobDto })
  cancel(@CurrentPrincipal() principal: Principal, @Param('id', uuid) id: string): Promise<JobDto> {
    return this.jobs.cancel(principal, id);
  }

  @Post(':id/retry')
  @ForTrainers()
  @ApiOperation({
    operationId: 'retryJob',
    summary: 'Run a failed or cancelled job again, as a new job',
  })
  @ApiCreatedResponse({ type: JobDto })
  retry(@CurrentPrincipal() principal: Principal, @Param('id', uuid) id: string): Promise<JobDto> {
    return this.jobs.retry(principal, id);
  }

  @Delete(':id')
  @ForAdmins()
  @HttpCode(204)
  @ApiOperation({
    operationId: 'deleteJob',
    summary: 'Delete a finished job, its events and its run folder',
  })
  @ApiNoContentResponse({ description: 'Deleted' })
  async delete(@Param('id', uuid) id: string): Promise<void> {
    await this.jobs.delete(id);
  }
}
