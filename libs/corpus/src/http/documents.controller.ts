import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  Post,
  Query,
  Req,
  Res,
  UseInterceptors,
} from '@nestjs/common';
import { FileStreamInterceptor, type MultipartFileStream } from '@nestjs/platform-fastify';
import {
  ApiAcceptedResponse,
  ApiBody,
  ApiConsumes,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { CurrentPrincipal, ForAdmins, ForReaders, ForTrainers, type Principal } from '@clara/auth';
import type { Page } from '@clara/common';
import { Idempotent } from '@clara/platform';

import { DocumentsService } from '../documents.service.js';
import { CorpusUploads } from './corpus-uploads.js';
import {
  DocumentDetailDto,
  DocumentPageDto,
  type DocumentSummaryDto,
  IngestBatchDto,
  IngestResponseDto,
  ListDocumentsQueryDto,
  UploadFieldsDto,
} from './corpus.dto.js';

interface StatusReply {
  status(code: number): unknown;
}

@ApiTags('corpus')
@Controller('documents')
export class DocumentsController {
  constructor(
    private readonly documents: DocumentsService,
    private readonly uploads: CorpusUploads,
  ) {}

  @Post()
  @ForTrainers()
  @Idempotent()
  @ApiOperation({
    operationId: 'ingestDocuments',
    summary: 'Ingest a JSON batch into every store (201 when done, 202 with a task when large)',
  })
  @ApiCreatedResponse({ type: IngestResponseDto })
  @ApiAcceptedResponse({ type: IngestResponseDto })
  async ingest(
    @Body() body: IngestBatchDto,
    @CurrentPrincipal() principal: Principal,
    @Res({ passthrough: true }) reply: StatusReply,
  ): Promise<IngestResponseDto> {
    const answer = await this.uploads.batch(body, principal.subject);
    reply.status(answer.mode === 'sync' ? 201 : 202);
    return answer;
  }

  @Post('upload')
  @ForTrainers()
  @Idempotent()
  @UseInterceptors(FileStreamInterceptor('file'))
  @ApiConsumes('multipart/form-data')
  @ApiBody({ type: UploadFieldsDto })
  @ApiOperation({
    operationId: 'uploadDocuments',
    summary:
      'Upload a JSONL, CSV, Markdown or text file (streamed; validated before anything is written)',
  })
  @ApiCreatedResponse({ type: IngestResponseDto })
  @ApiAcceptedResponse({ type: IngestResponseDto })
  async upload(
    @Body() fields: UploadFieldsDto,
    @Req() request: { file?: MultipartFileStream },
    @CurrentPrincipal() principal: Principal,
    @Res({ passthrough: true }) reply: StatusReply,
  ): Promise<IngestResponseDto> {
    const answer = await this.uploads.upload(fields, request.file, principal.subject);
    reply.status(answer.mode === 'sync' ? 201 : 202);
    return answer;
  }

  @Get()
  @ForReaders()
  @ApiOperation({
    operationId: 'listDocuments',
    summary: 'List documents (metadata filters, cursor pagination)',
  })
  @ApiOkResponse({ type: DocumentPageDto })
  list(@Query() query: ListDocumentsQueryDto): Promise<Page<DocumentSummaryDto>> {
    return this.documents.list(query);
  }

  @Get(':id')
  @ForReaders()
  @ApiOperation({
    operationId: 'getDocument',
    summary: 'One document: full body (documents store), chunks (relational), relations (graph)',
  })
  @ApiOkResponse({ type: DocumentDetailDto })
  get(@Param('id') id: string): Promise<DocumentDetailDto> {
    return this.documents.get(id);
  }

  @Delete(':id')
  @ForAdmins()
  @HttpCode(204)
  @ApiOperation({ operationId: 'deleteDocument', summary: 'Delete a document from every store' })
  @ApiNoContentResponse()
  async delete(@Param('id') id: string): Promise<void> {
    await this.documents.delete(id);
  }
}
