// @vitest-environment jsdom
/**
 * What a new user reads in the composer at 1440x1000 (issue 19): the selected node's problems in words in the
 * properties panel (the node only carries a "⚠ 1 problem" badge). The palette's words: widgets/__tests__/composer.
 */
import { act, createElement } from 'react';
import { createRoot, Root } from 'react-dom/client';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import { Inspector } from '../inspector';
import { findNode, readComposerSpec } from '../spec';
import { tabular } from './fixtures';

beforeAll(() => {
  (globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;
});

let root: Root | null = null;
afterEach(() => {
  act(() => root?.unmount());
  root = null;
});

async function inspect(address: string, problems: { [address: string]: string[] }): Promise<HTMLElement> {
  const spec = readComposerSpec(tabular())!;
  const box = document.createElement('div');
  document.body.replaceChildren(box);
  root = createRoot(box);
  await act(async () => {
    root!.render(
      createElement(Inspector, {
        selected: [findNode(spec, address)!],
        siblings: spec.root.nodes,
        revision: 0,
        send: () => undefined,
        problems
      })
    );
  });
  return box;
}

describe('inspector (issue 19)', () => {
  it("lists the selected node's problems in words, as text", async () => {
    const evil = '<img src=x onerror=alert(1)>';
    const box = await inspect('gather', {
      gather: ["script 'steps/gather.py' does not exist: save to write a stub, or fix the path", evil],
      preprocess: ['not this one']
    });
    const items = [...box.querySelectorAll('.sf-composer-problem')].map(li => li.textContent);
    expect(items).toEqual(["script 'steps/gather.py' does not exist: save to write a stub, or fix the path", evil]);
    expect(box.querySelector('.sf-composer-problems .sf-composer-section-title')?.textContent).toBe(
      '2 problems (fix before running)'
    );
    expect(box.querySelector('img')).toBeNull();
  });

  it('shows no problem section for a node without problems', async () => {
    const box = await inspect('preprocess', { gather: ['x'] });
    expect(box.querySelector('.sf-composer-problems')).toBeNull();
  });
});
