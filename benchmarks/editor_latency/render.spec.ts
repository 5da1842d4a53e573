/**
 * Render time of the JupyterLab-native views (issue 19), as a user sees it in Chromium: prints medians, asserts no
 * timings.
 *
 * (a) The Scanflow sidebar with 200 applications under the root: from pressing Refresh to the 200 rows drawn
 *     (the server's listing of 200 scanflow.yaml files and their runs included), and the redraw alone.
 * (b) The Scanflow Editor on a 200-step application (5 stages of 40 steps, nested workflows inside): from opening
 *     scanflow.yaml to every step node drawn on the canvas (the server's parse included).
 *
 * Each figure is timed in the page (performance.now(), a MutationObserver) from the action; the first round is
 * reported apart (cold caches); the median is over the REPEATS rounds after it. SCANFLOW_BENCH_REPEATS sets them.
 */
import { expect, test } from '@jupyterlab/galata';

const REPEATS = Number(process.env.SCANFLOW_BENCH_REPEATS ?? '7');
const APPS = 200;

function appSpec(i: number): string {
  return `scanflow: 1\nname: app${i}\nworkflows:\n- name: main\n  nodes:\n  - name: prep\n    script: s.py\n  - name: train\n    script: s.py\n    depends_on:\n    - prep\n`;
}

/** 5 stages of 40 steps: start, 18 tasks, join, and a nested train (split, 18 fits, pick); as the graph benchmark. */
export function bigSpec(): string {
  const lines = ['scanflow: 1', 'name: big', 'workflows:', '- name: main', '  nodes:'];
  const step = (indent: string, name: string, after: string[]): void => {
    lines.push(`${indent}- name: ${name}`, `${indent}  script: s.py`);
    if (after.length) {
      lines.push(`${indent}  depends_on:`, ...after.map(a => `${indent}  - ${a}`));
    }
  };
  for (let s = 0; s < 5; s++) {
    lines.push(`  - name: stage${s}`);
    if (s) {
      lines.push('    depends_on:', `    - stage${s - 1}`);
    }
    lines.push('    nodes:');
    const tasks = Array.from({ length: 18 }, (_, i) => `task${i}`);
    step('    ', 'start', []);
    tasks.forEach(t => step('    ', t, ['start']));
    step('    ', 'join', tasks);
    lines.push('    - name: train', '      depends_on:', '      - join', '      nodes:');
    const fits = Array.from({ length: 18 }, (_, i) => `fit${i}`);
    step('      ', 'split', []);
    fits.forEach(f => step('      ', f, ['split']));
    step('      ', 'pick', fits);
  }
  return lines.join('\n') + '\n';
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function report(label: string, first: number, rest: number[]): void {
  console.log(
    `${label}: median ${median(rest).toFixed(0)} ms over ${rest.length} (first ${first.toFixed(0)} ms; ` +
      `min ${Math.min(...rest).toFixed(0)}, max ${Math.max(...rest).toFixed(0)})`
  );
}

test.use({ viewport: { width: 1440, height: 1000 } });

test('sidebar with 200 applications, editor on a 200-step application', async ({ page, tmpPath }) => {
  for (let i = 0; i < APPS; i++) {
    await page.contents.uploadContent(appSpec(i), 'text', `${tmpPath}/apps/app${String(i).padStart(3, '0')}/scanflow.yaml`);
  }
  await page.contents.uploadContent(bigSpec(), 'text', `${tmpPath}/big/scanflow.yaml`);
  await page.sidebar.openTab('scanflow-sidebar');
  const sidebar = page.locator('#scanflow-sidebar');
  await expect.poll(() => sidebar.locator('.sf-sidebar-app').count(), { timeout: 60_000 }).toBeGreaterThan(APPS);

  // (a) Refresh to 200 rows drawn; then the redraw alone.
  const refresh = async (): Promise<number> =>
    page.evaluate(async () => {
      const list = document.querySelector('#scanflow-sidebar .sf-sidebar-list') as HTMLElement;
      list.replaceChildren(); // so the rows counted are the new ones
      const start = performance.now();
      (document.querySelector('#scanflow-sidebar .sf-sidebar-refresh') as HTMLButtonElement).click();
      await new Promise<void>(resolve => {
        const check = (): void => {
          if (list.querySelectorAll('.sf-sidebar-app').length >= 200) {
            observer.disconnect();
            resolve();
          }
        };
        const observer = new MutationObserver(check);
        observer.observe(list, { childList: true });
        check();
      });
      await new Promise(r => requestAnimationFrame(() => r(null)));
      return performance.now() - start;
    });
  const redraw = async (): Promise<number> =>
    page.evaluate(async () => {
      const app = (window as any).jupyterapp;
      const widget = [...app.shell.widgets('left')].find((w: any) => w.id === 'scanflow-sidebar');
      const start = performance.now();
      widget.draw();
      await new Promise(r => requestAnimationFrame(() => r(null)));
      return performance.now() - start;
    });
  const firstRefresh = await refresh();
  const refreshes: number[] = [];
  const redraws: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    refreshes.push(await refresh());
    redraws.push(await redraw());
  }

  // (b) Open the 200-step application in the editor, to every step drawn.
  const open = async (): Promise<number> => {
    const ms = await page.evaluate(async path => {
      const app = (window as any).jupyterapp;
      const start = performance.now();
      const widget = await app.commands.execute('docmanager:open', { path, factory: 'Scanflow Editor' });
      await new Promise<void>(resolve => {
        const check = (): void => {
          if (widget.node.querySelectorAll('.react-flow__node .sf-composer-step').length >= 200) {
            observer.disconnect();
            resolve();
          }
        };
        const observer = new MutationObserver(check);
        observer.observe(widget.node, { childList: true, subtree: true });
        check();
      });
      await new Promise(r => requestAnimationFrame(() => r(null)));
      const took = performance.now() - start;
      widget.dispose();
      return took;
    }, `${tmpPath}/big/scanflow.yaml`);
    return ms;
  };
  const firstOpen = await open();
  const opens: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    opens.push(await open());
  }
  console.log('');
  report(`sidebar, ${APPS} applications, Refresh to every row drawn`, firstRefresh, refreshes);
  report(`sidebar, ${APPS} applications, redraw alone`, redraws[0], redraws);
  report('editor, 200-step application, open to every step drawn', firstOpen, opens);
});
