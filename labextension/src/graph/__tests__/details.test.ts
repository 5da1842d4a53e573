// @vitest-environment jsdom
import { beforeEach, describe, expect, it, vi } from 'vitest';

import { formatDuration, formatMetric, formatValue, renderDetails, safeHttpUrl } from '../details';
import { openRunSource, uiRunUrl } from '../links';
import { StepInfo } from '../spec';

const EVIL = '<img src=x onerror=alert(1)>';

let box: HTMLDivElement;
beforeEach(() => {
  box = document.createElement('div');
  document.body.replaceChildren(box);
});

function show(info: StepInfo | undefined, address = 'modeling/linear', known = true): void {
  renderDetails(box, address, info, 'failed', { known });
}

describe('details panel', () => {
  it('says a cached step was reused rather than drawing a dash for its duration (issue 19)', () => {
    renderDetails(box, 'gather', { state: 'cached', duration: null }, 'cached', { known: true });
    expect(box.querySelector('.sf-graph-duration')?.textContent).toBe('reused from an earlier run');
    expect(box.querySelector<HTMLElement>('.sf-graph-details-state')?.style.background).not.toBe('');
  });

  it('says a checker step found drift instead of a plain green success (issue 19)', () => {
    const verdict = 'DRIFT: p = 0.0004 (tail test, alpha 0.05, 200 samples against 300 held-out reference samples)';
    renderDetails(box, 'check', { state: 'succeeded', duration: 2, verdict }, 'succeeded', { known: true });
    const badge = box.querySelector<HTMLElement>('.sf-graph-details-state')!;
    expect(badge.textContent).toBe('succeeded · drift found');
    expect(badge.dataset.verdict).toBe('drift');
    expect(badge.style.background).toBe(''); // not the success green: the stylesheet's warning colour
    expect(box.querySelector('.sf-graph-verdict-drift')?.textContent).toBe(verdict);
    renderDetails(box, 'check', { state: 'succeeded', verdict: 'NO DRIFT: p = 0.41' }, 'succeeded', { known: true });
    expect(box.querySelector('.sf-graph-details-state')?.textContent).toBe('succeeded');
    expect(box.querySelector('.sf-graph-verdict')?.textContent).toBe('NO DRIFT: p = 0.41');
  });

  it('shows a hint when nothing is selected', () => {
    show(undefined, '');
    expect(box.textContent).toBe('Click a step to see its details.');
    expect(box.classList.contains('sf-empty')).toBe(true);
  });

  it('shows address, state, duration, params, error, log tail and run id', () => {
    show({
      params: { alpha: 0.5, name: 'ridge', layers: [1, 2] },
      duration: 12.34,
      error: 'ValueError: bad',
      log_tail: 'line 1\nline 2',
      mlflow_run_id: 'abc123',
      mlflow_url: null
    });
    expect(box.querySelector('.sf-graph-details-address')?.textContent).toBe('modeling/linear');
    expect(box.querySelector('.sf-graph-details-state')?.textContent).toBe('failed');
    expect(box.querySelector('.sf-graph-details-state')?.getAttribute('data-state')).toBe('failed');
    expect(box.querySelector('.sf-graph-duration')?.textContent).toBe('12.3 s');
    const rows = [...box.querySelectorAll('table.sf-graph-params tbody tr')].map(r =>
      [...r.querySelectorAll('td')].map(td => td.textContent)
    );
    expect(rows).toEqual([
      ['alpha', '0.5'],
      ['layers', '[1,2]'],
      ['name', 'ridge']
    ]);
    expect(box.querySelector('pre.sf-graph-error')?.textContent).toBe('ValueError: bad');
    expect(box.querySelector('pre.sf-graph-log')?.textContent).toBe('line 1\nline 2');
    const run = box.querySelector('.sf-graph-mlflow');
    expect(run?.textContent).toBe('abc123');
    expect(run?.tagName).toBe('CODE'); // no URL, no link
    expect(box.querySelector('a')).toBeNull();
  });

  it('renders hostile text as text everywhere', () => {
    show(
      {
        params: { [EVIL]: EVIL },
        error: EVIL,
        log_tail: `<script>alert(1)</script>${EVIL}`,
        mlflow_run_id: EVIL,
        mlflow_url: 'https://mlflow.example/#/runs/1'
      },
      `outer/${EVIL}`
    );
    expect(box.querySelector('img')).toBeNull();
    expect(box.querySelector('script')).toBeNull();
    expect(box.querySelector('[onerror]')).toBeNull();
    expect(box.querySelector('.sf-graph-details-address')?.textContent).toBe(`outer/${EVIL}`);
    expect(box.querySelector('.sf-graph-param-name')?.textContent).toBe(EVIL);
    expect(box.querySelector('.sf-graph-param-value')?.textContent).toBe(EVIL);
    expect(box.querySelector('pre.sf-graph-error')?.textContent).toBe(EVIL);
    expect(box.querySelector('a.sf-graph-mlflow')?.textContent).toBe(EVIL);
  });

  it.each([
    ['https://mlflow.example/#/experiments/1/runs/abc', true],
    ['http://localhost:5000/#/experiments/1/runs/abc', true],
    ['javascript:alert(1)', false],
    [' javascript:alert(1)', false],
    ['data:text/html,<script>alert(1)</script>', false],
    ['//evil.example/', false],
    ['/relative/path', false]
  ])('links the MLflow run only to an http(s) URL: %s', (url, linked) => {
    show({ mlflow_run_id: 'abc', mlflow_url: url });
    const link = box.querySelector('a');
    if (linked) {
      expect(link?.getAttribute('href')).toBe(url);
      expect(link?.getAttribute('target')).toBe('_blank');
      expect(link?.getAttribute('rel')).toBe('noopener noreferrer');
    } else {
      expect(link).toBeNull();
      expect(box.querySelector('.sf-graph-mlflow')?.textContent).toBe('abc');
    }
  });

  it('leaves out what is not known', () => {
    show({ params: {}, duration: null, error: null, log_tail: '', mlflow_run_id: null });
    expect(box.querySelector('table')).toBeNull();
    expect(box.querySelector('pre')).toBeNull();
    expect(box.querySelector('.sf-graph-mlflow')).toBeNull();
    expect(box.querySelector('.sf-graph-duration')?.textContent).toBe('–');
  });

  it('opens a SQLite run in the run browser, or in a configured MLflow UI, and a server run on its server (issue 19)', () => {
    const info: StepInfo = { mlflow_run_id: 'abc', mlflow_url: null, mlflow_store: 'sqlite:////app/mlflow.db', mlflow_experiment_id: '3' };
    const opened: Array<[string, string]> = [];
    const open = (store: string, runId: string): void => {
      opened.push([store, runId]);
    };
    renderDetails(box, 'train', info, 'succeeded', { known: true, links: { uiUrl: '', open } });
    const button = box.querySelector<HTMLButtonElement>('button.sf-graph-mlflow-open')!;
    expect(button.textContent).toBe('abc');
    expect(button.title).toContain('run browser');
    button.click();
    expect(opened).toEqual([['sqlite:////app/mlflow.db', 'abc']]);

    renderDetails(box, 'train', info, 'succeeded', { known: true, links: { uiUrl: 'http://localhost:5000/', open } });
    expect(box.querySelector('a.sf-graph-mlflow')?.getAttribute('href')).toBe('http://localhost:5000/#/experiments/3/runs/abc');
    // A server's own page wins over the configured UI; a UI that is not http(s) is no link.
    renderDetails(box, 'train', { ...info, mlflow_url: 'https://mlflow.example/#/experiments/3/runs/abc', mlflow_store: null }, 'succeeded', {
      known: true,
      links: { uiUrl: 'http://localhost:5000', open }
    });
    expect(box.querySelector('a.sf-graph-mlflow')?.getAttribute('href')).toBe('https://mlflow.example/#/experiments/3/runs/abc');
    expect(uiRunUrl('javascript:alert(1)', '3', 'abc')).toBeNull();
    // Outside JupyterLab (no opener), the id is text.
    renderDetails(box, 'train', info, 'succeeded', { known: true, links: { uiUrl: '', open: null } });
    expect(box.querySelector('.sf-graph-mlflow')?.tagName).toBe('CODE');
  });

  it('quotes the store and the run id as Python strings in the code that opens the run', () => {
    const source = openRunSource('sqlite:////tmp/a "b"\\c.db', "x'); import os; ('");
    expect(source).toContain('RunBrowser("sqlite:////tmp/a \\"b\\"\\\\c.db")');
    expect(source).toContain('.open_run("x\'); import os; (\'")');
  });

  it("shows the step's metrics, their last values readable (issue 19)", () => {
    renderDetails(box, 'train', { metrics: { train_accuracy: 0.953333333, n_train: 1257, loss: 0.000032 } }, 'succeeded', { known: true });
    const rows = [...box.querySelectorAll('table.sf-graph-metrics tbody tr')].map(r => [...r.querySelectorAll('td')].map(td => td.textContent));
    expect(rows).toEqual([
      ['loss', '3.20e-5'],
      ['n_train', '1257'],
      ['train_accuracy', '0.9533']
    ]);
    expect(box.querySelector('table.sf-graph-metrics th:last-child')?.textContent).toBe('Last value');
    expect(formatMetric(123456.7)).toBe('1.23e+5');
    renderDetails(box, 'train', { metrics: {} }, 'succeeded', { known: true });
    expect(box.querySelector('table.sf-graph-metrics')).toBeNull();
  });

  it('says when the selected address is not a step of the workflow', () => {
    show(undefined, 'ghost', false);
    expect(box.textContent).toContain('ghost');
    expect(box.textContent).toContain('not in the workflow');
  });

  it('calls onClose from the close button', () => {
    const onClose = vi.fn();
    renderDetails(box, 'a', {}, 'pending', { known: true, onClose });
    box.querySelector<HTMLButtonElement>('button.sf-graph-details-close')!.click();
    expect(onClose).toHaveBeenCalledOnce();
  });
});

describe('formatting', () => {
  it.each<[number | null | undefined, string]>([
    [0.42, '0.4 s'],
    [59.94, '59.9 s'],
    [125, '2 min 05 s'],
    [3725, '1 h 02 min'],
    [null, '–'],
    [undefined, '–'],
    [Number.NaN, '–'],
    [-1, '–']
  ])('duration %s -> %s', (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
  });

  it('formats parameter values', () => {
    expect(formatValue('x')).toBe('x');
    expect(formatValue(3)).toBe('3');
    expect(formatValue(true)).toBe('true');
    expect(formatValue(null)).toBe('null');
    expect(formatValue({ a: 1 })).toBe('{"a":1}');
  });

  it('accepts only http and https URLs', () => {
    expect(safeHttpUrl('HTTPS://x')).toBe('HTTPS://x');
    expect(safeHttpUrl('ftp://x')).toBeNull();
    expect(safeHttpUrl(42)).toBeNull();
  });
});
