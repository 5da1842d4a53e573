/**
 * Helpers shared by the specs: notebooks written straight to the server (typing cells through the editor is slow
 * and its auto-closing brackets change the code), and locators for the GraphView's DOM (PROTOCOL.md).
 */
import type { IJupyterLabPageFixture } from '@jupyterlab/galata';
import type { Locator, Page, TestInfo } from '@playwright/test';

/** A code cell: its source, or its source and tags (`raises-exception` lets Run All go past its error). */
export type Cell = string | { source: string; tags: string[] };

/** A notebook (nbformat 4, Python 3 kernel) of code cells, as the contents API takes it. */
export function notebookOf(cells: Cell[]): object {
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {
      kernelspec: { display_name: 'Python 3', language: 'python', name: 'python3' },
      language_info: { name: 'python' }
    },
    cells: cells.map((cell, index) => {
      const { source, tags } = typeof cell === 'string' ? { source: cell, tags: [] } : cell;
      return {
        cell_type: 'code',
        id: `cell-${index}`,
        metadata: tags.length ? { tags } : {},
        source,
        outputs: [],
        execution_count: null
      };
    })
  };
}

/**
 * Write a notebook of code cells to `path` (relative to the server root), open it and make it the active tab.
 * Returns its name (the tab's label).
 */
export async function openNotebook(
  page: IJupyterLabPageFixture,
  path: string,
  cells: Cell[]
): Promise<string> {
  if (!(await page.contents.uploadContent(JSON.stringify(notebookOf(cells)), 'text', path))) {
    throw new Error(`could not write ${path}`);
  }
  const name = path.split('/').pop()!;
  await page.notebook.openByPath(path);
  await page.notebook.activate(name);
  return name;
}

/** The code cell whose source contains `text` (make it unique). */
export function codeCell(page: Page, text: string): Locator {
  return page.locator('.jp-CodeCell').filter({ has: page.locator('.jp-InputArea .cm-content', { hasText: text }) });
}

/** The step nodes of a graph widget (collapsed groups excluded). */
export function steps(graph: Locator): Locator {
  return graph.locator('g.node.sf-graph-step');
}

/** The `g.node` of the step or collapsed group at `address`. */
export function node(graph: Locator, address: string): Locator {
  return graph.locator(`g.node[id="sf/${address}"]`);
}

/** The `g.cluster` of the expanded nested workflow at `address`. */
export function cluster(graph: Locator, address: string): Locator {
  return graph.locator(`g.cluster[id="cluster/${address}"]`);
}

/** The label of an expanded nested workflow: clicking it collapses the workflow. */
export function clusterLabel(graph: Locator, address: string): Locator {
  return cluster(graph, address).locator('text.sf-graph-cluster-label');
}

/** A screenshot of `target`, kept as test-results/<test>/<name>.png and attached to the HTML report. */
export async function attachScreenshot(testInfo: TestInfo, name: string, target: Locator): Promise<void> {
  const path = testInfo.outputPath(`${name}.png`);
  await target.scrollIntoViewIfNeeded();
  await target.screenshot({ path });
  await testInfo.attach(name, { path, contentType: 'image/png' });
}
