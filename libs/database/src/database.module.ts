import { type DynamicModule, Logger, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CLARA_CONFIG, type ClaraConfig } from '@clara/config';
import { DataSource } from 'typeorm';

import { buildDataSourceOptions, databaseEngine } from './data-source-options.js';
import { runMigrationsExclusively } from './run-migrations.js';

/**
 * The relational database for every deployable: SQLite under the data folder by default,
 * PostgreSQL when `DATABASE_URL` is set. Feature modules register their own entities with
 * `TypeOrmModule.forFeature` (picked up by `autoLoadEntities`).
 */
@Module({})
export class DatabaseModule {
  static forRoot(): DynamicModule {
    return {
      module: DatabaseModule,
      imports: [
        TypeOrmModule.forRootAsync({
          inject: [CLARA_CONFIG],
          useFactory: (config: ClaraConfig) => ({
            ...buildDataSourceOptions(config.database),
            autoLoadEntities: true,
            retryAttempts: 3,
            retryDelay: 1000,
          }),
          dataSourceFactory: async (options) => {
            const dataSource = await new DataSource(options!).initialize();
            return dataSource;
          },
        }),
      ],
      providers: [
        {
          provide: 'CLARA_DATABASE_MIGRATED',
          inject: [CLARA_CONFIG, DataSource],
          useFactory: async (config: ClaraConfig, dataSource: DataSource) => {
            if (!config.database.migrateOnStart) return false;
            const applied = await runMigrationsExclusively(dataSource);
            if (applied.length > 0) {
              new Logger('Database').log(
                `applied ${applied.length} migration(s) on ${databaseEngine(config.database)}: ${applied.map((m) => m.name).join(', ')}`,
              );
            }
            return true;
          },
        },
      ],
      exports: [TypeOrmModule, 'CLARA_DATABASE_MIGRATED'],
    };
  }
}
