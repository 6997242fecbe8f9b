import { Body, Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ForReaders } from '@clara/auth';

import { parseFilter } from '../domain/filters.js';
import { SearchService } from '../search/search.service.js';
import { DEFAULT_WEIGHTS, type SearchResult } from '../search/search.types.js';
import { CorpusUploads } from './corpus-uploads.js';
import { IngestTaskDto, SearchRequestDto, SearchResponseDto } from './corpus.dto.js';

@ApiTags('corpus')
@Controller()
export class SearchController {
  constructor(private readonly searchService: SearchService) {}

  @Post('search')
  @ForReaders()
  @HttpCode(200)
  @ApiOperation({
    operationId: 'searchCorpus',
    summary: 'Hybrid search: keyword, vector and graph expansion, fused (weighted or RRF)',
  })
  @ApiOkResponse({ type: SearchResponseDto })
  search(@Body() body: SearchRequestDto): Promise<SearchResult> {
    return this.searchService.search({
      query: body.query,
      mode: body.mode ?? 'hybrid',
      fusion: body.fusion ?? 'weighted',
      weights: {
        vector: body.weights?.vector ?? DEFAULT_WEIGHTS.vector,
        keyword: body.weights?.keyword ?? DEFAULT_WEIGHTS.keyword,
        graph: body.weights?.graph ?? DEFAULT_WEIGHTS.graph,
      },
      filter: parseFilter(body.filters),
      topK: body.top_k ?? 10,
      minScore: body.min_score ?? 0,
      graphDepth: body.graph_depth ?? 1,
      rrfK: body.rrf_k ?? 60,
    });
  }
}

@ApiTags('corpus')
@Controller('ingest-tasks')
export class IngestTasksController {
  constructor(private readonly uploads: CorpusUploads) {}

  @Get(':id')
  @ForReaders()
  @ApiOperation({ operationId: 'getIngestTask', summary: 'Progress of a background ingest task' })
  @ApiOkResponse({ type: IngestTaskDto })
  task(@Param('id') id: string): Promise<IngestTaskDto> {
    return this.uploads.task(id);
  }
}
