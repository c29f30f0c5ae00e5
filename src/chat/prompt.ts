/**
 * @module prompt
 * The prompt /v1/chat sends a chat model: a template with two placeholders, `{{passages}}`
 * (the retrieved passages, each on its own paragraph as `[n] text`) and `{{question}}`,
 * filled in one pass (so a passage that happens to contain "{{question}}" stays as written)
 * and sent as the last user message, after any earlier turns of the conversation. A request
 * may replace the template; it must keep both placeholders and use no others.
 */
import { QuiverError } from '../core/index.ts';
import type { ChatMessage } from './request.ts';
import type { Source } from './retrieval.ts';

/** The default template; documented in README-contract.md, overridable per request. */
export const DEFAULT_PROMPT_TEMPLATE = `Answer the question using only the numbered passages below. Cite the passages you use by their numbers in square brackets, like [1] or [2][3], right after the statement they support. If the passages do not contain the answer, say that you do not know; do not make one up.

Passages:
{{passages}}

Question: {{question}}`;

/** A passage longer than this is cut (with an ellipsis) in the prompt, so k passages cannot blow the context. */
export const MAX_PASSAGE_CHARS = 4_000;
/** What `{{passages}}` becomes when retrieval found nothing. */
export const NO_PASSAGES = '(no passages matched the question)';

const PLACEHOLDER = /\{\{\s*([A-Za-z_]+)\s*\}\}/g;
const PLACEHOLDERS = ['passages', 'question'];

/** Refuses a template without both placeholders, or with unknown ones. */
export function checkTemplate(template: string): void {
  const found = new Set<string>();
  for (const match of template.matchAll(PLACEHOLDER)) {
    const name = match[1];
    if (!PLACEHOLDERS.includes(name)) {
      throw new QuiverError('BAD_REQUEST', `field "promptTemplate": unknown placeholder {{${name.slice(0, 32)}}}; the placeholders are {{passages}} and {{question}}`);
    }
    found.add(name);
  }
  for (const name of PLACEHOLDERS) {
    if (!found.has(name)) throw new QuiverError('BAD_REQUEST', `field "promptTemplate" must contain {{${name}}}`);
  }
}

/** The passages as the prompt numbers them. */
export function formatPassages(sources: readonly Source[]): string {
  if (sources.length === 0) return NO_PASSAGES;
  return sources
    .map((s) => {
      const text = (s.text ?? '').replace(/\s+/g, ' ').trim();
      return `[${s.citation}] ${text.length > MAX_PASSAGE_CHARS ? `${text.slice(0, MAX_PASSAGE_CHARS)}…` : text}`;
    })
    .join('\n\n');
}

/** Fills `template` (already checked) for `question` and `sources`. */
export function renderPrompt(template: string, question: string, sources: readonly Source[]): string {
  const values: Record<string, string> = { passages: formatPassages(sources), question };
  return template.replace(PLACEHOLDER, (_, name: string) => values[name]);
}

/** The messages sent to the chat model: the earlier turns, then the filled template as the user's turn. */
export function promptMessages(template: string, question: string, history: readonly ChatMessage[], sources: readonly Source[]): ChatMessage[] {
  return [...history, { role: 'user', content: renderPrompt(template, question, sources) }];
}
