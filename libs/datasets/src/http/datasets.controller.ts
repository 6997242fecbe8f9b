import {
  Body,
  Controller,
  Delete,
  Get,
  Headers,
  HttpCode,
  Param,
  ParseIntPipe,
  ParseUUIDPipe,
  Post,
  Query,
  Req,
  Res,
  StreamableFile,
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
  ApiProduces,
  ApiTags,
} from '@nestjs/swagger';
import { CurrentPrincipal, ForAdmins, ForReaders, ForTrainers, type Principal } from '@clara/auth';
import { NotFoundError, type Page, PageQueryDto, ValidationError } from '@clara/common';
import { Idempotent } from '@clara/platform';

import { BuildService } from '../build/build.service.js';
import { DatasetsService, toVersionDto } from '../datasets.service.js';
import { parseExportFileName } from '../export/file-names.js';
import { ExportService } from '../export/export.service.js';
import { fileTypeOf } from '../import/file-parsers.js';
import { ImportService } from '../import/import.service.js';
import {
  BuildVersionDto,
  CreateDatasetDto,
  DatasetDto,
  DatasetPageDto,
  DocumentLineageDto,
  type DocumentUseDto,
  DocumentUsePageDto,
  ExportQueryDto,
  ImportFieldsDto,
  ManifestDto,
  type RecordDto,
  RecordPageDto,
  RecordsQueryDto,
  VersionDto,
  VersionJobsDto,
  VersionPageDto,
} from './datasets.dto.js';

const uuid = new ParseUUIDPipe({ version: '7', errorHttpStatusCode: 404 });
const versionNumber = new ParseIntPipe({ errorHttpStatusCode: 404 });

interface Reply {
  status(code: number): unknown;
  header(name: string, value: string): unknown;
}

@ApiTags('datasets')
@Controller('datasets')
export class DatasetsController {
  constructor(private readonly datasets: DatasetsService) {}

  @Post()
  @ForTrainers()
  @Idempotent()
  @ApiOperation({ operationId: 'createDataset', summary: 'Create a dataset (name, record format)' })
  @ApiCreatedResponse({ type: DatasetDto })
  create(
    @Body() body: CreateDatasetDto,
    @CurrentPrincipal() principal: Principal,
  ): Promise<DatasetDto> {
    return this.datasets.create(body, principal.subject);
  }

  @Get()
  @ForReaders()
  @ApiOperation({ operationId: 'listDatasets', summary: 'List datasets, newest first' })
  @ApiOkResponse({ type: DatasetPageDto })
  list(@Query() query: PageQueryDto): Promise<Page<DatasetDto>> {
    return this.datasets.list(query);
  }

  @Get(':id')
  @ForReaders()
  @ApiOperation({ operationId: 'getDataset', summary: 'One dataset' })
  @ApiOkResponse({ type: DatasetDto })
  get(@Param('id', uuid) id: string): Promise<DatasetDto> {
    return this.datasets.get(id);
  }

  @Delete(':id')
  @ForAdmins()
  @HttpCode(204)
  @ApiOperation({
    operationId: 'deleteDataset',
    summary:
      'Delete a dataset and all its versions (refused while a queued or running job uses it)',
  })
  @ApiNoContentResponse()
  async delete(@Param('id', uuid) id: string): Promise<void> {
    await this.datasets.delete(id);
  }
}

@ApiTags('datasets')
@Controller('datasets/:id/versions')
export class VersionsController {
  constructor(
    private readonly datasets: DatasetsService,
    private readonly builds: BuildService,
    private readonly imports: ImportService,
    private readonly exports: ExportService,
  ) {}

  @Post()
  @ForTrainers()
  @Idempotent()
  @HttpCode(202)
  @ApiOperation({
    operationId: 'buildDatasetVersion',
    summary: 'Build a new version from a spec (search or documents → records) in the background',
  })
  @ApiAcceptedResponse({ type: VersionDto })
  async build(
    @Param('id', uuid) id: string,
    @Body() body: BuildVersionDto,
    @CurrentPrincipal() principal: Principal,
  ): Promise<VersionDto> {
    const dataset = await this.datasets.dataset(id);
    return toVersionDto(await this.builds.start(dataset, body, principal.subject));
  }

  @Post('import')
  @ForTrainers()
  @Idempotent()
  @UseInterceptors(FileStreamInterceptor('file'))
  @ApiConsumes('multipart/form-data')
  @ApiBody({ type: ImportFieldsDto })
  @ApiOperation({
    operationId: 'importDatasetVersion',
    summary:
      'Import a version from a JSONL, CSV or Parquet file: every record validated; refused whole (422 with line and problem) or stored whole',
  })
  @ApiCreatedResponse({ type: VersionDto })
  async import(
    @Param('id', uuid) id: string,
    @Body() fields: ImportFieldsDto,
    @Req() request: { file?: MultipartFileStream },
    @CurrentPrincipal() principal: Principal,
  ): Promise<VersionDto> {
    const file = request.file;
    if (!file) {
      throw new ValidationError([
        { field: 'file', message: 'a file part named `file` is required', in: 'body' },
      ]);
    }
    let dataset;
    try {
      dataset = await this.datasets.dataset(id);
    } catch (error) {
      file.stream.resume();
      throw error;
    }
    const fileType = fields.file_type ?? fileTypeOf(file.originalname);
    if (!fileType) {
      file.stream.resume();
      throw new ValidationError([
        {
          field: 'file',
          message: `cannot tell the type of '${file.originalname}': use .jsonl, .csv or .parquet, or send file_type`,
          in: 'body',
        },
      ]);
    }
    const path = await this.imports.stage(file.stream, fileType);
    const version = await this.imports.import(
      dataset,
      path,
      {
        fileType,
        fileName: file.originalname.slice(0, 200),
        validationFraction: fields.validation_fraction ?? 0,
        seed: fields.seed ?? 42,
        maxSeqLength: fields.max_seq_length ?? 2048,
      },
      principal.subject,
    );
    return toVersionDto(version);
  }

  @Get()
  @ForReaders()
  @ApiOperation({ operationId: 'listDatasetVersions', summary: 'Versions, newest first' })
  @ApiOkResponse({ type: VersionPageDto })
  list(@Param('id', uuid) id: string, @Query() query: PageQueryDto): Promise<Page<VersionDto>> {
    return this.datasets.listVersions(id, query);
  }

  @Get(':version')
  @ForReaders()
  @ApiOperation({
    operationId: 'getDatasetVersion',
    summary: 'One version: status and progress, spec, statistics, checksum',
  })
  @ApiOkResponse({ type: VersionDto })
  async get(
    @Param('id', uuid) id: string,
    @Param('version', versionNumber) version: number,
  ): Promise<VersionDto> {
    return toVersionDto(await this.datasets.version(id, version));
  }

  @Get(':version/records')
  @ForReaders()
  @ApiOperation({
    operationId: 'previewDatasetRecords',
    summary: 'Records of a split, page by page, with their source documents and chunks',
  })
  @ApiOkResponse({ type: RecordPageDto })
  records(
    @Param('id', uuid) id: string,
    @Param('version', versionNumber) version: number,
    @Query() query: RecordsQueryDto,
  ): Promise<Page<RecordDto>> {
    return this.datasets.records(id, version, query);
  }

  @Get(':version/documents')
  @ForReaders()
  @ApiOperation({
    operationId: 'listDatasetVersionDocuments',
    summary: 'Lineage: the source documents of a version and how many records each gave',
  })
  @ApiOkResponse({ type: DocumentUsePageDto })
  documents(
    @Param('id', uuid) id: string,
    @Param('version', versionNumber) version: number,
    @Query() query: PageQueryDto,
  ): Promise<Page<DocumentUseDto>> {
    return this.datasets.documents(id, version, query);
  }

  @Get(':version/jobs')
  @ForReaders()
  @ApiOperation({
    operationId: 'listDatasetVersionJobs',
    summary: 'Lineage: the training jobs that used a version, and their adapters',
  })
  @ApiOkResponse({ type: VersionJobsDto })
  jobs(
    @Param('id', uuid) id: string,
    @Param('version', versionNumber) version: number,
  ): Promise<VersionJobsDto> {
    return this.datasets.jobs(id, version);
  }

  @Get(':version/manifest')
  @ForReaders()
  @ApiOperation({
    operationId: 'getDatasetVersionManifest',
    summary: 'Provenance manifest: dataset, version spec and statistics, checksum, files',
  })
  @ApiOkResponse({ type: ManifestDto })
  manifest(
    @Param('id', uuid) id: string,
    @Param('version', versionNumber) version: number,
  ): Promise<ManifestDto> {
    return this.datasets.manifest(id, version);
  }

  @Get(':version/files/:file')
  @ForReaders()
  @ApiOperation({
    operationId: 'exportDatasetVersion',
    summary:
      'Export a split as JSONL, CSV or Parquet, streamed (`train-00000-of-00001.parquet`, …); ETag from the content checksum. A file written before (at version creation, or by an earlier download) is sent as it is, with Content-Length.',
  })
  @ApiProduces('application/x-ndjson', 'text/csv', 'application/vnd.apache.parquet')
  @ApiOkResponse({ schema: { type: 'string', format: 'binary' } })
  async export(
    @Param('id', uuid) id: string,
    @Param('version', versionNumber) version: number,
    @Param('file') fileName: string,
    @Query() query: ExportQueryDto,
    @Headers('if-none-match') ifNoneMatch: string | undefined,
    @Res({ passthrough: true }) reply: Reply,
  ): Promise<StreamableFile | undefined> {
    const target = parseExportFileName(fileName);
    if (!target) throw new NotFoundError('dataset_file', fileName);
    const v = await this.datasets.readyVersion(id, version);
    const metadata = query.metadata ?? true;
    const etag = this.exports.etagOf(v, target.split, target.format, metadata);
    reply.header('etag', etag);
    reply.header('cache-control', 'private, max-age=0, must-revalidate');
    if (ifNoneMatch && ifNoneMatch.split(',').some((t) => t.trim() === etag || t.trim() === '*')) {
      reply.status(304);
      return undefined;
    }
    const file = await this.exports.file(v, target.split, target.format, metadata);
    reply.header('x-record-count', String(file.records));
    return new StreamableFile(file.body, {
      type: file.contentType,
      disposition: `attachment; filename="${file.fileName}"`,
      ...(file.size === null ? {} : { length: file.size }),
    });
  }
}

@ApiTags('datasets')
@Controller('lineage')
export class LineageController {
  constructor(private readonly datasets: DatasetsService) {}

  @Get('documents/:documentId')
  @ForReaders()
  @ApiOperation({
    operationId: 'getDocumentLineage',
    summary: 'Lineage: the dataset versions that used a corpus document',
  })
  @ApiOkResponse({ type: DocumentLineageDto })
  document(@Param('documentId') documentId: string): Promise<DocumentLineageDto> {
    return this.datasets.documentLineage(documentId);
  }
}
