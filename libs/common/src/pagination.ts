import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';

import { ValidationError } from './problem.js';

export const DEFAULT_PAGE_LIMIT = 50;
export const MAX_PAGE_LIMIT = 500;

/** Query parameters shared by every list route. */
export class PageQueryDto {
  @ApiPropertyOptional({ minimum: 1, maximum: MAX_PAGE_LIMIT, default: DEFAULT_PAGE_LIMIT })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_PAGE_LIMIT)
  limit?: number;

  @ApiPropertyOptional({ description: "Opaque cursor from the previous page's `next_cursor`" })
  @IsOptional()
  @IsString()
  @MaxLength(512)
  cursor?: string;
}

/** One page of a list: `next_cursor` is null on the last page. */
export interface Page<T> {
  data: T[];
  next_cursor: string | null;
  has_more: boolean;
}

/**
 * Cursors are opaque to clients: base64url JSON of the sort key of the last row. A cursor
 * that does not decode is a 400 naming the `cursor` parameter, never a 500.
 */
export function encodeCursor(position: Record<string, string | number>): string {
  return Buffer.from(JSON.stringify(position), 'utf8').toString('base64url');
}

export function decodeCursor<T extends Record<string, string | number>>(
  cursor: string | undefined,
  keys: (keyof T & string)[],
): T | undefined {
  if (cursor === undefined) return undefined;
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (
      typeof value === 'object' &&
      value !== null &&
      keys.every((key) => ['string', 'number'].includes(typeof (value as T)[key]))
    ) {
      return value as T;
    }
  } catch {
    // Falls through to the validation error below.
  }
  throw new ValidationError([{ field: 'cursor', message: 'cursor is not valid', in: 'query' }]);
}

/** Builds a page from `limit + 1` fetched rows: the extra row only says whether more exist. */
export function toPage<Row, Item>(
  rows: Row[],
  limit: number,
  toItem: (row: Row) => Item,
  cursorOf: (row: Row) => Record<string, string | number>,
): Page<Item> {
  const hasMore = rows.length > limit;
  const pageRows = hasMore ? rows.slice(0, limit) : rows;
  return {
    data: pageRows.map(toItem),
    next_cursor: hasMore ? encodeCursor(cursorOf(pageRows[pageRows.length - 1])) : null,
    has_more: hasMore,
  };
}
