import { ConfigError, loadConfig, type ClaraConfig } from '@clara/config';

/**
 * Entry points call this so that a bad configuration ends the process with the list of
 * problems (exit code 78, EX_CONFIG) instead of a stack trace.
 */
export async function withConfig(main: (config: ClaraConfig) => Promise<unknown>): Promise<void> {
  let config: ClaraConfig;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(78);
    }
    throw error;
  }
  try {
    await main(config);
  } catch (error) {
    process.stderr.write(`Clara failed to start: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  }
}
