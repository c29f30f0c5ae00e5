/**
 * Keeps openapi.yaml honest where it restates the code: the error codes it lists and the
 * paths it documents. (Full response validation against the schema needs a YAML parser and a
 * JSON Schema validator, which the project does not have yet.)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createApp, loadConfig } from '../../src/api/index.ts';
import { ERROR_CATALOG, Engine } from '../../src/sql/index.ts';

const document = fs.readFileSync(new URL('../../openapi.yaml', import.meta.url), 'utf8');

/** The `- ITEM` lines of the first `enum:` after `key:` in the document. */
function enumAfter(key: string): string[] {
  const start = document.indexOf(`\n    ${key}:\n`);
  const enumStart = document.indexOf('enum:\n', start);
  const items: string[] = [];
  for (const line of document.slice(enumStart).split('\n').slice(1)) {
    const match = /^\s+- (\S+)$/.exec(line);
    if (!match) break;
    items.push(match[1]);
  }
  return items;
}

describe('openapi.yaml', () => {
  it('is OpenAPI 3.1', () => {
    expect(document.startsWith('openapi: 3.1.0\n')).toBe(true);
  });

  it('lists exactly the error codes of the catalog, in order', () => {
    expect(enumAfter('ErrorCode')).toEqual(Object.keys(ERROR_CATALOG));
  });

  describe('documents exactly the paths the app serves', () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'quiver-api-openapi-'));
    const engine = Engine.open({ dataDir });
    const app = createApp({ engine, config: loadConfig({ QUIVER_DATA_DIR: dataDir }) });
    afterAll(() => {
      engine.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    });

    const paths = [...document.matchAll(/^  (\/\S*):$/gm)].map((m) => m[1]);
    it('has the three paths', () => expect(paths).toEqual(['/v1/sql', '/health', '/openapi.yaml']));
    for (const p of paths) {
      it(`${p} exists`, async () => expect((await app.request(p, { method: 'OPTIONS' })).status).toBe(405));
    }
  });
});
