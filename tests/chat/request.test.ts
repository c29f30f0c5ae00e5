/** The /v1/chat body: defaults, the messages form, and a 400 naming the field for each mistake. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_K, MAX_K, parseChatRequest } from '../../src/chat/request.ts';
import { QuiverError } from '../../src/core/index.ts';
import { HTTP_STATUS } from '../../src/api/problem.ts';

function refused(body: unknown): string {
  try {
    parseChatRequest(body);
  } catch (e) {
    expect(e).toBeInstanceOf(QuiverError);
    expect(HTTP_STATUS[(e as QuiverError).code]).toBe(400);
    return (e as QuiverError).detail;
  }
  throw new Error('expected the body to be refused');
}

describe('parseChatRequest', () => {
  it('fills the documented defaults', () => {
    expect(parseChatRequest({ question: 'q?', table: 'docs' })).toEqual({
      question: 'q?',
      history: [],
      table: 'docs',
      k: DEFAULT_K,
      candidates: 25,
      retrieval: 'hybrid',
      fusion: { rrfK: 60, vectorWeight: 1, textWeight: 1 },
      generate: true,
      stream: false,
    });
    expect(parseChatRequest({ question: 'q', table: 't', k: 40 }).candidates).toBe(80);
    expect(parseChatRequest({ question: 'q', table: 't', k: 50, candidates: 50 }).candidates).toBe(50);
  });

  it('takes every setting', () => {
    const r = parseChatRequest({
      question: 'q', table: 't', textColumn: 'doc', vectorColumn: 'vec', k: 3, candidates: 9, where: 'a = :a', params: { a: 1 },
      retrieval: 'text', fusion: { rrfK: 10, textWeight: 2 }, generate: false, model: 'm', stream: true,
      promptTemplate: '{{passages}} {{question}}', temperature: 0.5, maxTokens: 100,
    });
    expect(r).toMatchObject({ textColumn: 'doc', vectorColumn: 'vec', k: 3, candidates: 9, where: 'a = :a', params: { a: 1 }, retrieval: 'text',
      fusion: { rrfK: 10, vectorWeight: 1, textWeight: 2 }, generate: false, model: 'm', stream: true, temperature: 0.5, maxTokens: 100 });
  });

  it('takes OpenAI-style messages: the last user message is the question, the rest is history', () => {
    const r = parseChatRequest({
      table: 't',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'What is IMCI?' },
        { role: 'assistant', content: 'A column store [1].' },
        { role: 'user', content: [{ type: 'text', text: 'And HashMatch?' }] },
      ],
    });
    expect(r.question).toBe('And HashMatch?');
    expect(r.history).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'What is IMCI?' },
      { role: 'assistant', content: 'A column store [1].' },
    ]);
    expect(parseChatRequest({ table: 't', messages: [{ role: 'developer', content: 'x' }, { role: 'user', content: 'q' }] }).history[0].role).toBe('system');
  });

  it('refuses mistakes, naming the field', () => {
    expect(refused([])).toMatch(/JSON object/);
    expect(refused({ table: 't' })).toMatch(/missing field "question"/);
    expect(refused({ question: 'q' })).toMatch(/missing field "table"/);
    expect(refused({ question: '  ', table: 't' })).toMatch(/"question" is empty/);
    expect(refused({ question: 'q', messages: [], table: 't' })).toMatch(/either "question" or "messages"/);
    expect(refused({ messages: [{ role: 'user', content: 'q' }, { role: 'assistant', content: 'a' }], table: 't' })).toMatch(/last message must be the user's question/);
    expect(refused({ messages: [{ role: 'tool', content: 'q' }], table: 't' })).toMatch(/messages\[0\]\.role/);
    expect(refused({ messages: [{ role: 'user', content: [{ type: 'image_url' }] }], table: 't' })).toMatch(/text part/);
    expect(refused({ question: 'q', table: 't', k: 0 })).toMatch(/"k" must be an integer from 1 to 50; got 0/);
    expect(refused({ question: 'q', table: 't', k: MAX_K + 1 })).toMatch(/"k"/);
    expect(refused({ question: 'q', table: 't', k: 10, candidates: 5 })).toMatch(/"candidates" must be an integer from 10/);
    expect(refused({ question: 'q', table: 't', retrieval: 'semantic' })).toMatch(/"retrieval" must be one of "hybrid", "vector", "text"/);
    expect(refused({ question: 'q', table: 't', fusion: { rrf: 1 } })).toMatch(/unknown field "fusion.rrf"/);
    expect(refused({ question: 'q', table: 't', fusion: { vectorWeight: 0, textWeight: 0 } })).toMatch(/both 0/);
    expect(refused({ question: 'q', table: 't', fusion: { rrfK: -1 } })).toMatch(/fusion.rrfK/);
    expect(refused({ question: 'q', table: 't', where: 1 })).toMatch(/"where" must be a SQL boolean expression/);
    expect(refused({ question: 'q', table: 't', params: [1] })).toMatch(/"params" is given without "where"/);
    expect(refused({ question: 'q', table: 't', stream: 'yes' })).toMatch(/"stream" must be true or false/);
    expect(refused({ question: 'q', table: 't', temperature: 3 })).toMatch(/"temperature"/);
    expect(refused({ question: 'q', table: 't', top_k: 3 })).toMatch(/unknown field "top_k"/);
  });

  it('refuses a message with a field other than role and content, naming it, as the contract says', () => {
    const withMessage = (message: Record<string, unknown>) => ({ table: 't', messages: [message, { role: 'user', content: 'q' }] });
    // What a YAML flow mapping makes of `{ role: assistant, content: Yes, in five days. }`.
    expect(refused(withMessage({ role: 'assistant', content: 'Yes', 'in five days.': null }))).toBe(
      'unknown field "messages[0].in five days."; a message takes role and content',
    );
    // OpenAI's fields that Quiver does not take: the name of a participant, tool calls and their results.
    expect(refused(withMessage({ role: 'user', content: 'hi', name: 'ann' }))).toMatch(/^unknown field "messages\[0\]\.name"/);
    expect(refused(withMessage({ role: 'assistant', content: null, tool_calls: [] }))).toMatch(/^unknown field "messages\[0\]\.tool_calls"/);
    expect(refused({ table: 't', messages: [{ role: 'user', content: 'q', tool_call_id: 'x' }] })).toMatch(/^unknown field "messages\[0\]\.tool_call_id"/);
    // A typo of a field is refused rather than read as a message without it.
    expect(refused(withMessage({ role: 'system', contents: 'Be brief.' }))).toMatch(/^unknown field "messages\[0\]\.contents"/);
    expect(refused(withMessage({ role: 'user', content: 'x', ['k'.repeat(200)]: 1 }))).toMatch(/^unknown field "messages\[0\]\.k{64}";/);
  });

  it('takes null as absent for every field but table, as the contract says', () => {
    const nulls = {
      textColumn: null, vectorColumn: null, k: null, candidates: null, where: null, params: null, retrieval: null, fusion: null,
      generate: null, model: null, stream: null, promptTemplate: null, temperature: null, maxTokens: null,
    };
    expect(parseChatRequest({ question: 'q?', table: 'docs', ...nulls })).toEqual(parseChatRequest({ question: 'q?', table: 'docs' }));
    expect(parseChatRequest({ question: 'q', table: 't', fusion: { rrfK: null, vectorWeight: null, textWeight: 2 } }).fusion).toEqual({ rrfK: 60, vectorWeight: 1, textWeight: 2 });
    expect(parseChatRequest({ question: null, messages: [{ role: 'user', content: 'q?' }], table: 't' }).question).toBe('q?');
    expect(parseChatRequest({ question: 'q?', messages: null, table: 't' }).question).toBe('q?');
    expect(refused({ question: null, table: 't' })).toMatch(/missing field "question"/);
    expect(refused({ question: 'q', table: null })).toMatch(/"table" must be a string/);
  });

  it('never quotes a long or structured value back', () => {
    expect(refused({ question: 'q', table: 't', retrieval: 'x'.repeat(100) })).not.toMatch(/xxxx/);
  });
});
