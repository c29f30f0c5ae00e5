/**
 * @module chat
 * One /v1/chat answer, in two stages so a stream can send its sources before the first token:
 * `prepare` finds the table's columns in the catalog, checks the filter, retrieves and fuses,
 * and decides the mode — `generated` (a chat model is configured or named), `extractive` (none
 * is: the passages' best sentences), or `none` (`generate: false`). Then `answer` produces the
 * whole answer, or `stream` its pieces. A provider failure is a ChatFailedError; the caller
 * still holds the prepared retrieval, so the error it reports can carry the sources.
 */
import { QuiverError } from '../core/index.ts';
import { candidateSentences, chooseExtracts, extractiveText, rankSentences, sentenceDistances, type Extract } from './extractive.ts';
import { compileFilter } from './filter.ts';
import { ChatModels, type StreamPiece, type Usage } from './models.ts';
import type { ChatModelConfig } from '../embed/index.ts';
import { DEFAULT_PROMPT_TEMPLATE, checkTemplate, promptMessages } from './prompt.ts';
import type { ChatRequest, FusionSettings, RetrievalMode } from './request.ts';
import { retrieve, type ChatEngine, type Source } from './retrieval.ts';
import { resolveTarget, type RetrievalTarget } from './target.ts';
import { queryWords } from './words.ts';

export type AnswerMode = 'generated' | 'extractive' | 'none';

/** How retrieval went, as the response reports it. */
export interface RetrievalReport {
  /** What ran: the requested mode, or the side that exists when hybrid could not run. */
  mode: RetrievalMode;
  requested: RetrievalMode;
  table: string;
  textColumn: string;
  vectorColumn: string | null;
  embeddingModel: string | null;
  metric: string | null;
  fulltextIndex: string | null;
  k: number;
  candidates: number;
  fusion: FusionSettings;
  vectorHits: number;
  textHits: number;
}

export interface Timings {
  retrievalMs: number;
  generationMs: number;
}

/** The result of stage one: retrieval done, mode decided. */
export interface PreparedChat {
  request: ChatRequest;
  mode: AnswerMode;
  /** The chat model, in generated mode. */
  model: ChatModelConfig | undefined;
  sources: Source[];
  retrieval: RetrievalReport;
  notes: string[];
  target: RetrievalTarget;
  retrievalMs: number;
}

export interface ChatAnswer {
  answer: string;
  mode: AnswerMode;
  /** The chat model's name in generated mode; null otherwise. */
  model: string | null;
  finishReason: string | null;
  sources: Source[];
  /** The chosen sentences, in extractive mode. */
  extracts?: Extract[];
  retrieval: RetrievalReport;
  usage?: Usage;
  timings: Timings;
  notes: string[];
}

function elapsed(since: number): number {
  return Math.round((performance.now() - since) * 1000) / 1000;
}

export class ChatService {
  constructor(
    private readonly engine: ChatEngine,
    readonly models: ChatModels,
  ) {}

  /** Stage one: catalog, filter, retrieval, mode. 4xx QuiverErrors for what the request got wrong. */
  async prepare(request: ChatRequest): Promise<PreparedChat> {
    const started = performance.now();
    if (request.promptTemplate !== undefined) checkTemplate(request.promptTemplate);
    // Resolved first, so a misspelt model is refused before any retrieval work.
    const model = request.generate ? this.models.resolve(request.model) : undefined;
    const table = await this.engine.describeTable(request.table);
    if (!table) throw new QuiverError('UNKNOWN_TABLE', `no such table: ${request.table.slice(0, 128)}`);
    const target = resolveTarget(table, request);
    const filter = request.where === undefined ? undefined : compileFilter(request.where, request.params, table);
    const retrieved = await retrieve(this.engine, target, request, filter, table.columns.map((c) => c.name));
    const notes = [...target.notes];
    if (target.fulltextIndex && queryWords(request.question).length === 0) notes.push('the question has no words to search for by full text, so the full-text side did not run');
    if (retrieved.sources.length === 0) notes.push('no row matched the question and the filter');
    const mode: AnswerMode = !request.generate ? 'none' : model ? 'generated' : 'extractive';
    if (mode === 'extractive') notes.push('no chat model is configured: the answer is quoted from the sources, not generated');
    return {
      request,
      mode,
      model,
      sources: retrieved.sources,
      retrieval: {
        mode: target.mode,
        requested: request.retrieval,
        table: target.table,
        textColumn: target.textColumn,
        vectorColumn: target.vector?.column ?? null,
        embeddingModel: target.vector?.model ?? null,
        metric: target.vector?.metric ?? null,
        fulltextIndex: target.fulltextIndex ?? null,
        k: request.k,
        candidates: request.candidates,
        fusion: request.fusion,
        vectorHits: retrieved.vectorHits,
        textHits: retrieved.textHits,
      },
      notes,
      target,
      retrievalMs: elapsed(started),
    };
  }

  /** Stage two, whole: the answer of the prepared mode. Throws ChatFailedError when the provider fails. */
  async answer(prepared: PreparedChat, signal?: AbortSignal): Promise<ChatAnswer> {
    const started = performance.now();
    const base = {
      mode: prepared.mode,
      sources: prepared.sources,
      retrieval: prepared.retrieval,
      notes: prepared.notes,
    };
    if (prepared.mode === 'none') {
      return { ...base, answer: '', model: null, finishReason: null, timings: { retrievalMs: prepared.retrievalMs, generationMs: 0 } };
    }
    if (prepared.mode === 'extractive') {
      const extracts = await this.extract(prepared);
      return {
        ...base,
        answer: extractiveText(extracts),
        model: null,
        finishReason: 'stop',
        extracts,
        timings: { retrievalMs: prepared.retrievalMs, generationMs: elapsed(started) },
      };
    }
    const model = prepared.model!;
    const completion = await this.models.complete(model, this.messages(prepared), prepared.request, signal);
    const out: ChatAnswer = {
      ...base,
      answer: completion.content,
      model: model.name,
      finishReason: completion.finishReason,
      timings: { retrievalMs: prepared.retrievalMs, generationMs: elapsed(started) },
    };
    if (completion.usage) out.usage = completion.usage;
    return out;
  }

  /**
   * Stage two, streamed. Resolves once generation has started (a provider's refusal is thrown
   * here, before the caller has sent anything); extractive mode yields its answer as one piece,
   * mode `none` only the end.
   */
  async stream(prepared: PreparedChat, signal?: AbortSignal): Promise<AsyncGenerator<StreamPiece>> {
    if (prepared.mode === 'generated') return this.models.stream(prepared.model!, this.messages(prepared), prepared.request, signal);
    const text = prepared.mode === 'extractive' ? extractiveText(await this.extract(prepared)) : '';
    return (async function* (): AsyncGenerator<StreamPiece> {
      if (text) yield { kind: 'delta', text };
      yield { kind: 'end', finishReason: prepared.mode === 'none' ? null : 'stop', usage: undefined };
    })();
  }

  private messages(prepared: PreparedChat) {
    const { request, sources } = prepared;
    return promptMessages(request.promptTemplate ?? DEFAULT_PROMPT_TEMPLATE, request.question, request.history, sources);
  }

  /**
   * The extractive answer's sentences. Embedding similarity uses the retrieval's own model; if
   * that fails (a remote provider down), term coverage alone decides and a note says so.
   */
  private async extract(prepared: PreparedChat): Promise<Extract[]> {
    const candidates = candidateSentences(prepared.sources);
    const vector = prepared.target.vector;
    let distances: (number | null)[] | undefined;
    if (vector && candidates.length > 1) {
      try {
        distances = await sentenceDistances(this.engine, vector.model, vector.dims, prepared.request.question, candidates.map((c) => c.sentence));
      } catch (e) {
        if (!(e instanceof QuiverError)) throw e;
        prepared.notes.push(`sentences were ranked by word overlap only: embedding them failed (${e.code})`);
      }
    }
    return chooseExtracts(rankSentences(prepared.request.question, candidates, distances));
  }
}
