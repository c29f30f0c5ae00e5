/**
 * @module spec
 * openapi.yaml as the tests see it: the text, the parsed document, local `$ref` resolution, and
 * JSON Schema validators compiled from the document's own schemas. OpenAPI 3.1 schemas are JSON
 * Schema 2020-12, so Ajv's 2020 build validates them as written; the document is registered
 * whole under one id so every `#/components/...` reference inside a schema resolves in place.
 * Ajv runs in strict mode: a keyword it does not know in a schema is an error in the spec, not
 * something silently ignored.
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { parse } from 'yaml';

export const SPEC_PATH = fileURLToPath(new URL('../../../openapi.yaml', import.meta.url));
export const SPEC_TEXT = fs.readFileSync(SPEC_PATH, 'utf8');

/** A JSON object of the document; the shapes are checked by the spec validator, not by types. */
export type Node = Record<string, unknown>;

export const SPEC = parse(SPEC_TEXT) as Node;

/** The id the document is registered under in Ajv; refs inside it resolve against it. */
const SPEC_ID = 'https://quiver.dev/openapi.yaml';

/** The HTTP methods a path item may hold, as OpenAPI spells them. */
export const OPERATION_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

// ajv-formats is CommonJS with `exports.default`; under NodeNext the default import is the
// module object as TypeScript sees it, while at run time it is the plugin function itself.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as typeof addFormatsModule.default;

// strictRequired is off: `oneOf: [{required: [a]}, {required: [b]}]` beside the parent's
// `properties` is the standard way to say "exactly one of a and b", which Ajv's lint flags.
const ajv = new Ajv2020({ strict: true, strictRequired: false, allErrors: true, allowUnionTypes: true });
addFormats(ajv);
// OpenAPI's own schema keywords (3.1 §4.8.24) are annotations to Ajv. So are the document's
// top-level fields: resolving a ref into the document compiles its root as a schema, and the
// root's fields are not schema keywords (their contents are not traversed as schemas).
const OPENAPI_SCHEMA_KEYWORDS = ['example', 'discriminator', 'xml', 'externalDocs'];
const OPENAPI_ROOT_FIELDS = ['openapi', 'info', 'jsonSchemaDialect', 'servers', 'paths', 'webhooks', 'components', 'security', 'tags'];
for (const keyword of [...OPENAPI_SCHEMA_KEYWORDS, ...OPENAPI_ROOT_FIELDS]) ajv.addKeyword(keyword);
ajv.addSchema(SPEC, SPEC_ID);

/** `/a/b~1c` for the keys `a`, `b/c` (RFC 6901). */
export function pointerOf(keys: readonly string[]): string {
  return keys.map((k) => '/' + k.replaceAll('~', '~0').replaceAll('/', '~1')).join('');
}

/** The value at a JSON pointer in the document, or undefined. */
export function at(pointer: string): unknown {
  let node: unknown = SPEC;
  for (const raw of pointer.split('/').slice(1)) {
    const key = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, key)) return undefined;
    node = (node as Node)[key];
  }
  return node;
}

/** Follows local `$ref`s (`#/...`) from `pointer` to the object they name, and where it lives. */
export function resolve(pointer: string): { node: Node; pointer: string } {
  const seen = new Set<string>();
  for (;;) {
    const node = at(pointer);
    if (typeof node !== 'object' || node === null) throw new Error(`openapi.yaml has nothing at ${pointer}`);
    const ref = (node as Node).$ref;
    if (typeof ref !== 'string') return { node: node as Node, pointer };
    if (!ref.startsWith('#/')) throw new Error(`openapi.yaml: only local $refs are supported; ${pointer} has ${ref}`);
    if (seen.has(ref)) throw new Error(`openapi.yaml: $ref cycle through ${ref}`);
    seen.add(ref);
    pointer = decodeURIComponent(ref.slice(1));
  }
}

const validators = new Map<string, ValidateFunction>();

/** A validator for the schema at `pointer` (a Schema Object of the document), compiled once. */
export function schemaValidator(pointer: string): ValidateFunction {
  let validate = validators.get(pointer);
  if (!validate) {
    const fragment = pointer.split('/').map(encodeURIComponent).join('/');
    validate = ajv.compile({ $ref: `${SPEC_ID}#${fragment}` });
    validators.set(pointer, validate);
  }
  return validate;
}

/** Ajv's errors as one line each: where in the value, what was expected. */
export function describeErrors(errors: ErrorObject[] | null | undefined): string {
  return (errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message ?? e.keyword} ${JSON.stringify(e.params)}`).join('\n  ');
}

/** The documented path templates, in document order. */
export function documentedPaths(): string[] {
  return Object.keys((SPEC.paths ?? {}) as Node);
}

/** The path template of the document that `pathname` falls under (`{name}` matches one segment). */
export function matchPath(pathname: string): string | undefined {
  const paths = documentedPaths();
  if (paths.includes(pathname)) return pathname;
  return paths.find((template) => {
    const pattern = template.split(/\{[^}]+\}/).map((part) => part.replace(/[.*+?^$()|[\]\\]/g, '\\$&')).join('[^/]+');
    return new RegExp(`^${pattern}$`).test(pathname);
  });
}

/** The methods documented on a path, upper-case, as an `Allow` header would list them. */
export function documentedMethods(template: string): string[] {
  const item = resolve(pointerOf(['paths', template])).node;
  return OPERATION_METHODS.filter((m) => m in item).map((m) => m.toUpperCase());
}
