// Type-aware lint for the whole workspace. Boundaries: apps never import apps, and a lib is
// entered only through its one door, `@clara/<lib>`.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const APP_NAMES = ['training', 'datasets', 'worker', 'cli'];

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'coverage/**',
      '.venv/**',
      'apps/trainer/**',
      'data/**',
      'bench/results/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-extraneous-class': 'off',
      '@typescript-eslint/require-await': 'off',
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['@clara/*/*'], message: 'Import a lib through its one door: @clara/<lib>.' },
            {
              group: ['**/libs/*/src/*', '**/libs/*/src/**'],
              message: 'Import a lib through @clara/<lib>, not by path.',
            },
            {
              // Relative paths up and into an app folder: another app, or an app from a lib.
              regex: `^(\\.\\./)+(apps/)?(${APP_NAMES.join('|')})/`,
              message: 'Apps never import other apps, and libs never import apps.',
            },
          ],
        },
      ],
    },
  },
  {
    // Tests compose real apps, so they may import the apps' root modules.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['@clara/*/*', '**/libs/*/src/**'], message: 'Use @clara/<lib>.' }] },
      ],
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        setInterval: 'readonly',
        clearTimeout: 'readonly',
        clearInterval: 'readonly',
        URL: 'readonly',
        fetch: 'readonly',
        performance: 'readonly',
      },
    },
  },
);
