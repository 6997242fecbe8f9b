import { Body, Controller, Get, Param, Post } from '@nestjs/common';
import { ForReaders, ForTrainers } from '@clara/auth';
import { newId } from '@clara/common';
import { Type } from 'class-transformer';
import { IsInt, IsString, Max, Min, MinLength, ValidateNested } from 'class-validator';

class FixtureSettings {
  @IsInt()
  @Min(1)
  @Max(10)
  level!: number;
}

export class FixtureItemDto {
  @IsString()
  @MinLength(2)
  name!: string;

  @ValidateNested()
  @Type(() => FixtureSettings)
  settings!: FixtureSettings;
}

/**
 * Test-only routes mounted next to the platform's own, to exercise what every feature
 * route gets: validation, role checks, audit of mutations, 500 handling.
 */
@Controller('fixtures')
export class FixtureController {
  @Post('items')
  @ForTrainers()
  create(@Body() body: FixtureItemDto): { id: string; name: string } {
    return { id: newId(), name: body.name };
  }

  @Get('items/:id')
  @ForReaders()
  get(@Param('id') id: string): { id: string } {
    return { id };
  }

  @Get('boom')
  @ForReaders()
  boom(): never {
    throw new Error('database password is hunter2');
  }

  /** Declares no roles: the guard must refuse it for everyone. */
  @Post('undeclared')
  undeclared(): { ok: true } {
    return { ok: true };
  }
}
