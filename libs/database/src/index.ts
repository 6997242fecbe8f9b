export {
  buildDataSourceOptions,
  type DatabaseEngine,
  databaseEngine,
} from './data-source-options.js';
export { DatabaseModule } from './database.module.js';
export { isPostgres, jsonType, TIMESTAMP } from './migrations/column-types.js';
export { MIGRATIONS } from './migrations/index.js';
export { runMigrationsExclusively } from './run-migrations.js';
