/** The prompt: the documented default, numbered passages, one-pass filling, and template checks. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_PROMPT_TEMPLATE, MAX_PASSAGE_CHARS, NO_PASSAGES, checkTemplate, promptMessages, renderPrompt } from '../../src/chat/prompt.ts';
import type { Source } from '../../src/chat/index.ts';
import { QuiverError } from '../../src/core/index.ts';

function source(citation: number, text: string): Source {
  return { citation, rowId: citation, text, distance: null, textScore: null, fusedScore: 0, vectorRank: null, textRank: null, columns: {} };
}

describe('prompt', () => {
  it('numbers the passages and asks for citations', () => {
    const text = renderPrompt(DEFAULT_PROMPT_TEMPLATE, 'What is HashMatch?', [source(1, 'HashMatch is a join.\nIn IMCI.'), source(2, 'Puppies.')]);
    expect(text).toContain('[1] HashMatch is a join. In IMCI.\n\n[2] Puppies.');
    expect(text).toContain('Question: What is HashMatch?');
    expect(text).toMatch(/Cite the passages you use by their numbers in square brackets/);
    expect(renderPrompt(DEFAULT_PROMPT_TEMPLATE, 'q', [])).toContain(NO_PASSAGES);
  });

  it('fills in one pass, so passage text is never treated as a placeholder', () => {
    expect(renderPrompt('{{passages}} | {{ question }}', 'Q', [source(1, 'says {{question}}')])).toBe('[1] says {{question}} | Q');
  });

  it('cuts very long passages', () => {
    const text = renderPrompt('{{passages}}{{question}}', '', [source(1, 'x'.repeat(MAX_PASSAGE_CHARS + 10))]);
    expect(text).toBe(`[1] ${'x'.repeat(MAX_PASSAGE_CHARS)}…`);
  });

  it('sends the history, then the filled template as the user turn', () => {
    const history = [{ role: 'system' as const, content: 'Be brief.' }];
    expect(promptMessages('{{passages}} {{question}}', 'Q', history, [source(1, 'p')])).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: '[1] p Q' },
    ]);
  });

  it('refuses a template without both placeholders, or with unknown ones', () => {
    expect(() => checkTemplate(DEFAULT_PROMPT_TEMPLATE)).not.toThrow();
    expect(() => checkTemplate('{{question}}')).toThrow(/must contain \{\{passages\}\}/);
    expect(() => checkTemplate('{{passages}}')).toThrow(/must contain \{\{question\}\}/);
    expect(() => checkTemplate('{{passages}} {{question}} {{context}}')).toThrow(QuiverError);
  });
});
