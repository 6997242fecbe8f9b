import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ForAdmins } from '@clara/auth';

import { WorkerDto } from './jobs.dto.js';
import { WorkersService } from './workers.service.js';

@ApiTags('workers')
@Controller('workers')
export class WorkersController {
  constructor(private readonly workers: WorkersService) {}

  @Get()
  @ForAdmins()
  @ApiOperation({
    operationId: 'listWorkers',
    summary: 'Registered workers, their GPUs and what they run',
  })
  @ApiOkResponse({ type: [WorkerDto] })
  list(): Promise<WorkerDto[]> {
    return this.workers.list();
  }
}
