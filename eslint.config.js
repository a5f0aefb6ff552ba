import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** `no-restricted-imports` refusing relative imports whose source matches `regex`. */
function layer(files, regex, message) {
  return { files, rules: { 'no-restricted-imports': ['error', { patterns: [{ regex, message }] }] } };
}

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  // Layering (ARCHITECTURE.md): the Engine API model stands on util/ alone, and policy never
  // reaches back into the gateway that uses it.
  layer(['src/api/*.ts'], '^\\.\\./(?!util/)', 'src/api/ imports only src/util/'),
  layer(['src/api/*/*.ts'], '^\\.\\./\\.\\./(?!util/)', 'src/api/ imports only src/util/'),
  layer(['src/policy/**/*.ts'], '(^|/)gateway/', 'src/policy/ never imports src/gateway/'),
  // The other parts stand beside the gateway, not on it; nothing below the CLI reaches up into it.
  layer(
    ['src/{pki,daemon,client,engine,audit,report,ownership}/**/*.ts'],
    '(^|/)(gateway|cli)/',
    'only src/cli/ and src/gateway/ may import src/gateway/, and only src/cli/ imports src/cli/',
  ),
  layer(['src/util/**/*.ts'], '^\\.\\./', 'src/util/ stands alone'),
);
