import {
  Controller,
  Get,
  Headers,
  Param,
  ParseUUIDPipe,
  Query,
  Res,
  Sse,
  StreamableFile,
} from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ForReaders } from '@clara/auth';
import { ValidationError } from '@clara/common';
import { type Observable } from 'rxjs';

import { JobOutputsService, type StreamedEvent } from './job-outputs.service.js';
import {
  ArtifactDto,
  CheckpointDto,
  EventsQueryDto,
  JobEventPageDto,
  JobLogDto,
  JobMetricsDto,
  LogQueryDto,
} from './jobs.dto.js';

interface ReplyHeaders {
  header(name: string, value: string): unknown;
}

const uuid = new ParseUUIDPipe({ version: '7', errorHttpStatusCode: 404 });

@ApiTags('jobs')
@Controller('jobs/:id')
export class JobOutputsController {
  constructor(private readonly outputs: JobOutputsService) {}

  @Get('events')
  @ForReaders()
  @ApiOperation({
    operationId: 'listJobEvents',
    summary: 'The ordered event history, paged by sequence number',
  })
  @ApiOkResponse({ type: JobEventPageDto })
  events(@Param('id', uuid) id: string, @Query() query: EventsQueryDto): Promise<JobEventPageDto> {
    return this.outputs.page(id, query);
  }

  @Sse('events/stream')
  @ForReaders()
  @ApiOperation({
    operationId: 'streamJobEvents',
    summary:
      'Live events (Server-Sent Events); resume with Last-Event-ID or ?after=<seq>. Ends when the job has ended.',
  })
  @ApiOkResponse({
    description:
      'One SSE message per event: `id` = seq, `event` = type, `data` = the JobEventDto as JSON',
    content: { 'text/event-stream': { schema: { type: 'string' } } },
  })
  stream(
    @Param('id', uuid) id: string,
    @Headers('last-event-id') lastEventId: string | undefined,
    @Query() query: EventsQueryDto,
  ): Promise<Observable<StreamedEvent>> {
    const fromHeader = lastEventId !== undefined ? Number(lastEventId) : undefined;
    if (fromHeader !== undefined && (!Number.isInteger(fromHeader) || fromHeader < 0)) {
      throw new ValidationError([
        { field: 'Last-Event-ID', message: 'must be a sequence number', in: 'header' },
      ]);
    }
    return this.outputs.stream(id, fromHeader ?? query.after ?? 0);
  }

  @Get('metrics')
  @ForReaders()
  @ApiOperation({
    operationId: 'getJobMetrics',
    summary: 'Per-step metrics (loss, eval_loss, learning_rate, grad_norm, tokens_per_second, …)',
  })
  @ApiOkResponse({ type: JobMetricsDto })
  metrics(@Param('id', uuid) id: string): Promise<JobMetricsDto> {
    return this.outputs.metrics(id);
  }

  @Get('logs')
  @ForReaders()
  @ApiOperation({
    operationId: 'getJobLog',
    summary: "The trainer's log: the last lines, or a byte range",
  })
  @ApiOkResponse({ type: JobLogDto })
  log(@Param('id', uuid) id: string, @Query() query: LogQueryDto): Promise<JobLogDto> {
    return this.outputs.log(id, query);
  }

  @Get('checkpoints')
  @ForReaders()
  @ApiOperation({ operationId: 'listJobCheckpoints', summary: 'Checkpoints the trainer saved' })
  @ApiOkResponse({ type: [CheckpointDto] })
  checkpoints(@Param('id', uuid) id: string): Promise<CheckpointDto[]> {
    return this.outputs.checkpoints(id);
  }

  @Get('artifacts')
  @ForReaders()
  @ApiOperation({
    operationId: 'listJobArtifacts',
    summary: 'Artifacts the trainer produced (the adapter)',
  })
  @ApiOkResponse({ type: [ArtifactDto] })
  artifacts(@Param('id', uuid) id: string): Promise<ArtifactDto[]> {
    return this.outputs.artifacts(id);
  }

  @Get('artifacts/adapter')
  @ForReaders()
  @ApiOperation({
    operationId: 'downloadJobAdapter',
    summary: 'The trained LoRA adapter as one .tar.gz',
  })
  @ApiOkResponse({
    content: { 'application/gzip': { schema: { type: 'string', format: 'binary' } } },
  })
  async adapter(
    @Param('id', uuid) id: string,
    @Res({ passthrough: true }) reply: ReplyHeaders,
  ): Promise<StreamableFile> {
    const { stream, filename } = await this.outputs.adapterArchive(id);
    reply.header('content-disposition', `attachment; filename="${filename}"`);
    return new StreamableFile(stream, { type: 'application/gzip' });
  }
}
