/**
 * @module wire
 * /v1/chat's answers as bytes: the JSON body, the problem body that still carries the
 * retrieval, and the server-sent events of a streamed answer in the shape of OpenAI's
 * `chat.completion.chunk`, so OpenAI's clients read it unchanged. Quiver's own data rides in an
 * extra `quiver` field that those clients ignore: the FIRST chunk (role "assistant", empty
 * content) carries `quiver.sources`, the last before `data: [DONE]` carries `quiver.timings`.
 * JSON is written by hand because row values may be bigints (exact 64-bit row ids), which
 * JSON.stringify cannot print as numbers; blobs print as {"$base64": "..."}.
 */
import { randomUUID } from 'node:crypto';
import type { ChatAnswer, PreparedChat, Timings } from './chat.ts';
import type { Usage } from './models.ts';
import type { Source } from './retrieval.ts';

/** An RFC 9457 problem document as src/api/problem.ts builds it. */
export interface ProblemBody {
  code: string;
  detail: string;
  [field: string]: unknown;
}

/** `model` of a chunk when no chat model generated the answer. */
export const EXTRACTIVE_MODEL = 'quiver-extractive';
export const NO_MODEL = 'quiver-retrieval';

/** JSON text of `value`: bigint as an exact number, blobs as {"$base64"}, non-finite numbers as null, undefined fields left out. */
export function toJson(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : 'null';
    case 'bigint':
      return value.toString();
  }
  if (value instanceof Float32Array) return `[${Array.from(value, (x) => (Number.isFinite(x) ? String(x) : 'null')).join(',')}]`;
  if (value instanceof Uint8Array) return `{"$base64":${JSON.stringify(Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64'))}}`;
  if (Array.isArray(value)) return `[${value.map(toJson).join(',')}]`;
  const fields: string[] = [];
  for (const [key, inner] of Object.entries(value as Record<string, unknown>)) {
    if (inner !== undefined) fields.push(`${JSON.stringify(key)}:${toJson(inner)}`);
  }
  return `{${fields.join(',')}}`;
}

/** A source as the API shows it. */
function sourceBody(s: Source) {
  return {
    citation: s.citation,
    rowId: s.rowId,
    text: s.text,
    distance: s.distance,
    textScore: s.textScore,
    fusedScore: s.fusedScore,
    vectorRank: s.vectorRank,
    textRank: s.textRank,
    columns: s.columns,
  };
}

/** The 200 body of a non-streamed answer. */
export function answerJson(answer: ChatAnswer): string {
  return toJson({
    answer: answer.answer,
    mode: answer.mode,
    model: answer.model,
    finishReason: answer.finishReason,
    sources: answer.sources.map(sourceBody),
    extracts: answer.extracts?.map((e) => ({ citation: e.citation, sentence: e.sentence, score: e.score, overlap: e.overlap, similarity: e.similarity })),
    retrieval: answer.retrieval,
    usage: answer.usage,
    timings: answer.timings,
    notes: answer.notes,
  });
}

/** A problem body that also reports the retrieval that ran before generation failed. */
export function failedAnswerJson(problem: ProblemBody, prepared: PreparedChat, timings: Timings): string {
  return toJson({ ...problem, mode: prepared.mode, sources: prepared.sources.map(sourceBody), retrieval: prepared.retrieval, timings, notes: prepared.notes });
}

function usageBody(usage: Usage) {
  return { prompt_tokens: usage.promptTokens, completion_tokens: usage.completionTokens, total_tokens: usage.totalTokens };
}

/** Builds the chunks of one streamed answer; all share one id, creation time and model. */
export class ChunkWriter {
  private readonly id = `chatcmpl-quiver-${randomUUID()}`;
  private readonly created = Math.floor(Date.now() / 1000);
  private readonly model: string;

  constructor(prepared: PreparedChat) {
    this.model = prepared.model?.name ?? (prepared.mode === 'extractive' ? EXTRACTIVE_MODEL : NO_MODEL);
  }

  private chunk(delta: Record<string, unknown>, finishReason: string | null, extra: Record<string, unknown> = {}): string {
    const body = {
      id: this.id,
      object: 'chat.completion.chunk',
      created: this.created,
      model: this.model,
      choices: [{ index: 0, delta, finish_reason: finishReason }],
      ...extra,
    };
    return `data: ${toJson(body)}\n\n`;
  }

  /** The first event: the assistant's role, and the sources under `quiver`. */
  first(prepared: PreparedChat): string {
    return this.chunk({ role: 'assistant', content: '' }, null, {
      quiver: { mode: prepared.mode, sources: prepared.sources.map(sourceBody), retrieval: prepared.retrieval, notes: prepared.notes },
    });
  }

  delta(text: string): string {
    return this.chunk({ content: text }, null);
  }

  /** The last chunk: the finish reason, usage when the provider gave it, and Quiver's timings. */
  last(finishReason: string | null, usage: Usage | undefined, timings: Timings): string {
    return this.chunk({}, finishReason, { ...(usage ? { usage: usageBody(usage) } : {}), quiver: { timings } });
  }

  /** A failure after the stream began: OpenAI's in-stream error shape (its SDK throws on it), the problem under `quiver`. */
  error(problem: ProblemBody): string {
    return `data: ${toJson({ error: { message: problem.detail, type: problem.code, code: problem.code }, quiver: { problem } })}\n\n`;
  }

  done(): string {
    return 'data: [DONE]\n\n';
  }
}
