/**
 * @module request
 * The body of `POST /v1/chat`, read into a validated ChatRequest: the question (or an
 * OpenAI-style `messages` array whose last user message is the question), the table, retrieval
 * and fusion settings, and generation settings. Every tunable has DEFAULT_/MIN_/MAX_ constants
 * here, and every refusal is a 400 QuiverError that names the field and what it expects. Unknown
 * fields are refused, so a typo never silently becomes a default. Bound filter values are never
 * quoted back.
 */
import { QuiverError } from '../core/index.ts';

export const DEFAULT_K = 5;
export const MIN_K = 1;
export const MAX_K = 50;
/** Rows fetched from each side before fusing; default max(2k, k + 20), capped here. */
export const MAX_CANDIDATES = 200;
/** Cormack, Clarke & Büttcher (SIGIR 2009), "Reciprocal Rank Fusion...": k = 60. */
export const DEFAULT_RRF_K = 60;
export const MIN_RRF_K = 0;
export const MAX_RRF_K = 10_000;
export const DEFAULT_VECTOR_WEIGHT = 1;
export const DEFAULT_TEXT_WEIGHT = 1;
export const MAX_WEIGHT = 1_000;
export const MAX_QUESTION_CHARS = 16_000;
export const MAX_WHERE_CHARS = 8_000;
export const MAX_MESSAGES = 200;
export const MAX_MESSAGE_CHARS = 100_000;
export const MAX_TEMPLATE_CHARS = 32_000;
export const MAX_MAX_TOKENS = 1_000_000;

export type RetrievalMode = 'hybrid' | 'vector' | 'text';
export const RETRIEVAL_MODES: readonly RetrievalMode[] = ['hybrid', 'vector', 'text'];

/** Reciprocal rank fusion: a row's fused score is Σ weight / (rrfK + rank) over the lists it is in. */
export interface FusionSettings {
  rrfK: number;
  vectorWeight: number;
  textWeight: number;
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface ChatRequest {
  question: string;
  /** The conversation before the question (from `messages`), passed to the chat model as is. */
  history: ChatMessage[];
  table: string;
  textColumn?: string;
  vectorColumn?: string;
  k: number;
  /** Rows fetched from each retrieval side before fusion. */
  candidates: number;
  where?: string;
  /** Values of the filter's parameters: an array for `?`, an object for `:name`. */
  params?: readonly unknown[] | Readonly<Record<string, unknown>>;
  retrieval: RetrievalMode;
  fusion: FusionSettings;
  generate: boolean;
  model?: string;
  stream: boolean;
  promptTemplate?: string;
  temperature?: number;
  maxTokens?: number;
}

const FIELDS = [
  'question', 'messages', 'table', 'textColumn', 'vectorColumn', 'k', 'candidates', 'where', 'params', 'retrieval',
  'fusion', 'generate', 'model', 'stream', 'promptTemplate', 'temperature', 'maxTokens',
];
const FIELD_SET = new Set(FIELDS);
const FUSION_FIELDS = new Set(['rrfK', 'vectorWeight', 'textWeight']);
const MESSAGE_FIELDS = new Set(['role', 'content']);
/** `developer` is OpenAI's newer name for `system`. */
const ROLES: ReadonlyMap<string, ChatMessage['role']> = new Map([
  ['system', 'system'], ['developer', 'system'], ['user', 'user'], ['assistant', 'assistant'],
]);

function bad(detail: string): QuiverError {
  return new QuiverError('BAD_REQUEST', detail);
}

/** Validates a parsed JSON body; throws a 400 QuiverError saying what to fix. */
export function parseChatRequest(body: unknown): ChatRequest {
  if (!isObject(body)) throw bad(`the body must be a JSON object such as {"question": "...", "table": "docs"}; got ${kindOf(body)}`);
  for (const key of Object.keys(body)) {
    if (!FIELD_SET.has(key)) throw bad(`unknown field ${JSON.stringify(key.slice(0, 64))}; the body takes ${FIELDS.join(', ')}`);
  }
  // null counts as absent for every optional field (README-contract.md): generated clients send null for unset ones.
  const { question, history } = readQuestion(body.question ?? undefined, body.messages ?? undefined);
  const table = requiredString(body.table, 'table', 'the table to retrieve from');
  const k = integer(body.k, 'k', DEFAULT_K, MIN_K, MAX_K);
  const candidates = integer(body.candidates, 'candidates', Math.min(MAX_CANDIDATES, Math.max(2 * k, k + 20)), k, MAX_CANDIDATES);
  const retrieval = body.retrieval ?? 'hybrid';
  if (typeof retrieval !== 'string' || !RETRIEVAL_MODES.includes(retrieval as RetrievalMode)) {
    throw bad(`field "retrieval" must be one of ${RETRIEVAL_MODES.map((m) => JSON.stringify(m)).join(', ')}; got ${describe(retrieval)}`);
  }
  const request: ChatRequest = {
    question,
    history,
    table,
    k,
    candidates,
    retrieval: retrieval as RetrievalMode,
    fusion: readFusion(body.fusion),
    generate: boolean(body.generate, 'generate', true),
    stream: boolean(body.stream, 'stream', false),
  };
  if (body.textColumn !== undefined && body.textColumn !== null) request.textColumn = requiredString(body.textColumn, 'textColumn', 'a column name');
  if (body.vectorColumn !== undefined && body.vectorColumn !== null) request.vectorColumn = requiredString(body.vectorColumn, 'vectorColumn', 'a column name');
  if (body.where !== undefined && body.where !== null) {
    if (typeof body.where !== 'string') throw bad(`field "where" must be a SQL boolean expression as a string; got ${kindOf(body.where)}`);
    if (body.where.length > MAX_WHERE_CHARS) throw bad(`field "where" is ${body.where.length} characters; the limit is ${MAX_WHERE_CHARS}`);
    if (body.where.trim() !== '') request.where = body.where;
  }
  if (body.params !== undefined && body.params !== null) {
    if (typeof body.params !== 'object') {
      throw bad(`field "params" must be an array (for ? placeholders) or an object (for :name placeholders); got ${kindOf(body.params)}`);
    }
    if (request.where === undefined) throw bad('field "params" is given without "where"; params bind the placeholders of the filter');
    request.params = body.params as ChatRequest['params'];
  }
  if (body.model !== undefined && body.model !== null) request.model = requiredString(body.model, 'model', 'the name of a configured chat model');
  if (body.promptTemplate !== undefined && body.promptTemplate !== null) {
    if (typeof body.promptTemplate !== 'string') throw bad(`field "promptTemplate" must be a string; got ${kindOf(body.promptTemplate)}`);
    if (body.promptTemplate.length > MAX_TEMPLATE_CHARS) throw bad(`field "promptTemplate" is longer than ${MAX_TEMPLATE_CHARS} characters`);
    request.promptTemplate = body.promptTemplate;
  }
  if (body.temperature !== undefined && body.temperature !== null) {
    if (typeof body.temperature !== 'number' || !(body.temperature >= 0 && body.temperature <= 2)) {
      throw bad(`field "temperature" must be a number from 0 to 2; got ${describe(body.temperature)}`);
    }
    request.temperature = body.temperature;
  }
  if (body.maxTokens !== undefined && body.maxTokens !== null) request.maxTokens = integer(body.maxTokens, 'maxTokens', 0, 1, MAX_MAX_TOKENS);
  return request;
}

function readQuestion(question: unknown, messages: unknown): { question: string; history: ChatMessage[] } {
  if (question !== undefined && messages !== undefined) {
    throw bad('send either "question" or "messages", not both; with "messages" the last user message is the question');
  }
  if (messages === undefined) {
    const text = requiredString(question, 'question', 'the question to answer');
    if (text.length > MAX_QUESTION_CHARS) throw bad(`field "question" is ${text.length} characters; the limit is ${MAX_QUESTION_CHARS}`);
    return { question: text, history: [] };
  }
  if (!Array.isArray(messages) || messages.length === 0) {
    throw bad(`field "messages" must be a non-empty array of {"role": "user", "content": "..."}; got ${kindOf(messages)}`);
  }
  if (messages.length > MAX_MESSAGES) throw bad(`field "messages" has ${messages.length} messages; the limit is ${MAX_MESSAGES}`);
  const read = messages.map((m, i) => readMessage(m, `messages[${i}]`));
  const last = read[read.length - 1];
  if (last.role !== 'user') {
    throw bad(`the last message must be the user's question; messages[${read.length - 1}] has role "${last.role}"`);
  }
  if (last.content.trim() === '') throw bad(`messages[${read.length - 1}] is empty; it is the question`);
  if (last.content.length > MAX_QUESTION_CHARS) throw bad(`the question is ${last.content.length} characters; the limit is ${MAX_QUESTION_CHARS}`);
  return { question: last.content, history: read.slice(0, -1) };
}

function readMessage(value: unknown, at: string): ChatMessage {
  if (!isObject(value)) throw bad(`${at} must be an object {"role": ..., "content": ...}; got ${kindOf(value)}`);
  for (const key of Object.keys(value)) {
    if (!MESSAGE_FIELDS.has(key)) throw bad(`unknown field ${JSON.stringify(`${at}.${key.slice(0, 64)}`)}; a message takes role and content`);
  }
  const role = typeof value.role === 'string' ? ROLES.get(value.role) : undefined;
  if (!role) throw bad(`${at}.role must be one of system, developer, user, assistant; got ${describe(value.role)}`);
  let content: string;
  if (typeof value.content === 'string') content = value.content;
  else if (Array.isArray(value.content)) {
    // OpenAI's content parts: only text parts carry anything retrieval or a text model can use.
    content = value.content
      .map((part, j) => {
        if (isObject(part) && part.type === 'text' && typeof part.text === 'string') return part.text;
        throw bad(`${at}.content[${j}] must be a text part {"type": "text", "text": "..."}`);
      })
      .join('\n');
  } else throw bad(`${at}.content must be a string or an array of text parts; got ${kindOf(value.content)}`);
  if (content.length > MAX_MESSAGE_CHARS) throw bad(`${at}.content is longer than ${MAX_MESSAGE_CHARS} characters`);
  return { role, content };
}

function readFusion(value: unknown): FusionSettings {
  const fusion: FusionSettings = { rrfK: DEFAULT_RRF_K, vectorWeight: DEFAULT_VECTOR_WEIGHT, textWeight: DEFAULT_TEXT_WEIGHT };
  if (value === undefined || value === null) return fusion;
  if (!isObject(value)) throw bad(`field "fusion" must be an object {"rrfK": 60, "vectorWeight": 1, "textWeight": 1}; got ${kindOf(value)}`);
  for (const key of Object.keys(value)) {
    if (!FUSION_FIELDS.has(key)) throw bad(`unknown field "fusion.${key.slice(0, 64)}"; fusion takes rrfK, vectorWeight, textWeight`);
  }
  fusion.rrfK = number(value.rrfK, 'fusion.rrfK', DEFAULT_RRF_K, MIN_RRF_K, MAX_RRF_K);
  fusion.vectorWeight = number(value.vectorWeight, 'fusion.vectorWeight', DEFAULT_VECTOR_WEIGHT, 0, MAX_WEIGHT);
  fusion.textWeight = number(value.textWeight, 'fusion.textWeight', DEFAULT_TEXT_WEIGHT, 0, MAX_WEIGHT);
  if (fusion.vectorWeight === 0 && fusion.textWeight === 0) throw bad('fusion.vectorWeight and fusion.textWeight are both 0; at least one must be positive');
  return fusion;
}

function requiredString(value: unknown, field: string, what: string): string {
  if (value === undefined) throw bad(`missing field "${field}": ${what}`);
  if (typeof value !== 'string') throw bad(`field "${field}" must be a string (${what}); got ${kindOf(value)}`);
  if (value.trim() === '') throw bad(`field "${field}" is empty; it must be ${what}`);
  return value;
}

function integer(value: unknown, field: string, fallback: number, min: number, max: number): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw bad(`field "${field}" must be an integer from ${min} to ${max}; got ${describe(value)}`);
  }
  return value;
}

function number(value: unknown, field: string, fallback: number, min: number, max: number): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw bad(`field "${field}" must be a number from ${min} to ${max}; got ${describe(value)}`);
  }
  return value;
}

function boolean(value: unknown, field: string, fallback: boolean): boolean {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'boolean') throw bad(`field "${field}" must be true or false; got ${kindOf(value)}`);
  return value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A short description of a value that is not what a field expects (numbers and short strings shown). */
function describe(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'string') return value.length <= 32 ? JSON.stringify(value) : 'a long string';
  return kindOf(value);
}

export function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}
