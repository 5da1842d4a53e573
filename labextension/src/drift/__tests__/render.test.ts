// @vitest-environment jsdom
import { describe, expect, it } from 'vitest';

import {
  DriftData,
  SampleCard,
  fmt,
  heat,
  niceTicks,
  readDrift,
  renderDrift,
  renderHistogram,
  renderTimeline
} from '../render';

function summary(drift: boolean): Record<string, unknown> {
  return {
    verdict: drift ? 'drift' : 'no drift',
    drift,
    p_value: drift ? 0.0005 : 0.41,
    alpha: 0.05,
    test: 'savage',
    method: 'permutation',
    batch_size: 200,
    reference_size: 404,
    score_kind: 'combined',
    threshold: 1.5,
    false_alarm_rate: 0.05,
    n_over_threshold: drift ? 46 : 9,
    share_over_threshold: drift ? 0.23 : 0.045,
    model_uri: 'models:/digits-checker/1',
    notes: []
  };
}

function card(id: string, over: boolean, n = 4): SampleCard {
  return {
    id,
    index: 3,
    score: 2.5,
    p_value: 0.002,
    over_threshold: over,
    errors: Array.from({ length: n }, (_, i) => i / n),
    values: Array.from({ length: n }, (_, i) => (n - i) / n),
    top_features: [
      ['petal', 0.9],
      ['sepal', 0.1]
    ]
  };
}

function data(traits: Record<string, unknown>): DriftData {
  return readDrift(name => traits[name]);
}

describe('renderDrift', () => {
  it('draws the verdict, the histogram with the threshold, and one card per sample', () => {
    const root = document.createElement('div');
    renderDrift(
      root,
      data({
        summary: summary(true),
        histogram: { edges: [0, 1, 2, 3], reference: [300, 90, 14], batch: [100, 54, 46] },
        samples: [card('a', true), card('b', false)],
        image_shape: [2, 2],
        feature_names: []
      })
    );
    expect(root.querySelector('.sf-drift-verdict')?.classList.contains('sf-drift-yes')).toBe(true);
    expect(root.querySelector('.sf-drift-verdict-word')?.textContent).toBe('DRIFT');
    expect(root.querySelector('.sf-drift-verdict-test')?.textContent).toContain('p < 0.001');
    expect(root.querySelector('.sf-drift-share')?.textContent).toContain('46 of 200 samples (23.0%)');
    expect(root.querySelectorAll('.sf-drift-bar-reference rect')).toHaveLength(3);
    expect(root.querySelectorAll('.sf-drift-bar-batch rect')).toHaveLength(3);
    expect(root.querySelector('.sf-drift-threshold')).not.toBeNull();
    const cards = root.querySelectorAll('.sf-drift-sample');
    expect(cards).toHaveLength(2);
    expect(cards[0].classList.contains('sf-drift-over')).toBe(true);
    // Image samples: the picture and the heatmap, 2x2 cells each.
    expect(cards[0].querySelectorAll('.sf-drift-grid')).toHaveLength(2);
    expect(cards[0].querySelectorAll('.sf-drift-grid rect')).toHaveLength(8);
  });

  it('labels the axes between their ends, keys the overlap colour and scales the heatmaps (issue 19)', () => {
    const root = document.createElement('div');
    renderDrift(
      root,
      data({
        summary: summary(true),
        histogram: { edges: [0, 1, 2, 3, 4], reference: [300, 90, 14, 0], batch: [100, 54, 46, 0] },
        samples: [card('a', true)],
        image_shape: [2, 2],
        feature_names: []
      })
    );
    const labels = [...root.querySelectorAll('.sf-drift-histogram .sf-drift-label')].map(t => t.textContent);
    expect(labels).toEqual(expect.arrayContaining(['0', '1', '2', '3', '4', 'score', '0.0%']));
    expect(root.querySelectorAll('.sf-drift-histogram .sf-drift-tick')).toHaveLength(5 + 3);
    expect(niceTicks(-2.82, 3.58)).toEqual([-2, -1, 0, 1, 2, 3]);
    expect(niceTicks(0.1695, 0.1695)).toEqual([0.1695]);
    const keys = [...root.querySelectorAll('.sf-drift-legend .sf-drift-key')].map(k => k.textContent);
    expect(keys).toEqual(['reference (held out)', 'batch', 'both (bars overlap)', 'threshold']);
    expect(root.querySelector('.sf-drift-heat-scale')?.textContent).toContain('no error');
    const tabular = document.createElement('div');
    renderDrift(tabular, data({ summary: summary(true), samples: [card('a', true)], image_shape: [], feature_names: [] }));
    expect(tabular.querySelector('.sf-drift-heat-scale')).toBeNull(); // no heatmaps, no scale
  });

  it('gives p-values one precision, and no alarm boxes when the batch does not drift (issue 19)', () => {
    const root = document.createElement('div');
    renderDrift(
      root,
      data({
        summary: summary(false),
        histogram: null,
        samples: [card('a', true), card('b', false)],
        image_shape: [2, 2],
        feature_names: []
      })
    );
    expect(root.querySelector('.sf-drift-verdict-test')?.textContent).toContain('p = 0.410');
    expect(root.querySelectorAll('.sf-drift-over')).toHaveLength(0);
    expect(root.querySelector('.sf-drift-sample')?.classList.contains('sf-drift-expected')).toBe(true);
    expect(root.querySelector('.sf-drift-section')?.textContent).toContain('no drift');
    expect(root.querySelector('.sf-drift-sample-score')?.textContent).toBe('score 2.5, p 0.002 (over threshold)');
  });

  it('scales bars by share, so a small batch is comparable with a large reference', () => {
    const chart = renderHistogram(document, { edges: [0, 1, 2], reference: [900, 100], batch: [10, 90] }, null);
    const height = (cls: string, i: number): number =>
      Number(chart.querySelectorAll(`.${cls} rect`)[i].getAttribute('height'));
    // reference share 0.9 and batch share 0.9 draw equally tall.
    expect(height('sf-drift-bar-reference', 0)).toBeCloseTo(height('sf-drift-bar-batch', 1), 5);
    expect(chart.querySelector('.sf-drift-threshold')).toBeNull();
  });

  it('lists the worst features of tabular samples, with their values', () => {
    const root = document.createElement('div');
    renderDrift(
      root,
      data({
        summary: summary(false),
        histogram: { edges: [0, 1], reference: [1], batch: [1] },
        samples: [card('row-7', false, 2)],
        image_shape: [],
        feature_names: ['sepal', 'petal']
      })
    );
    expect(root.querySelector('.sf-drift-verdict')?.classList.contains('sf-drift-no')).toBe(true);
    const rows = [...root.querySelectorAll('.sf-drift-features tr')].map(r =>
      [...r.children].map(c => c.textContent)
    );
    expect(rows).toEqual([
      ['feature', 'value', 'error'],
      ['petal', '0.5', '0.9'],
      ['sepal', '1', '0.1']
    ]);
  });

  it('shows ids, feature names and notes as text, never as HTML', () => {
    const root = document.createElement('div');
    const evil = '<img src=x onerror="window.pwned=1">';
    const s = summary(true);
    s.notes = [evil];
    s.model_uri = evil;
    const sample = card(evil, true, 2);
    sample.top_features = [[evil, 1]];
    renderDrift(root, data({ summary: s, histogram: null, samples: [sample], image_shape: [], feature_names: [] }));
    expect(root.querySelector('img')).toBeNull();
    expect(root.querySelector('.sf-drift-sample-id')?.textContent).toBe(evil);
    expect(root.querySelector('.sf-drift-feature-name')?.textContent).toBe(evil);
    expect(root.querySelector('.sf-drift-note')?.textContent).toBe(`note: ${evil}`);
  });

  it('draws "No report." for missing or malformed traits, and n/a for missing numbers', () => {
    const root = document.createElement('div');
    renderDrift(root, data({ summary: 'nonsense', histogram: [1], samples: 3 }));
    expect(root.textContent).toBe('No report.');
    expect(fmt(null)).toBe('n/a');
    expect(fmt(0.000123456)).toBe('0.0001235');
    expect(heat(0)).toBe('rgb(255,255,217)');
  });

  it('lists the integrity checks, failed ones marked, messages as text', () => {
    const root = document.createElement('div');
    const evil = '<img src=x onerror="window.pwned=1">';
    renderDrift(
      root,
      data({
        summary: summary(false),
        histogram: null,
        samples: [],
        checks: [
          { check: 'schema', passed: true, skipped: false, message: 'schema: passed (3 features)' },
          { check: 'ranges', passed: false, skipped: false, message: `ranges: FAILED: feature ${evil} is far out` },
          { check: 'label_shift', passed: true, skipped: true, message: 'label_shift: skipped' }
        ]
      })
    );
    const items = [...root.querySelectorAll('.sf-drift-check')];
    expect(items.map(i => i.getAttribute('data-check'))).toEqual(['schema', 'ranges', 'label_shift']);
    expect(items[1].classList.contains('sf-drift-check-fail')).toBe(true);
    expect(items[2].classList.contains('sf-drift-check-skip')).toBe(true);
    const message = items[1].querySelector('.sf-drift-check-message')?.textContent;
    expect(message).toBe(`ranges: FAILED: feature ${evil} is far out`);
    expect(root.querySelector('img')).toBeNull();
  });

  it('draws a sequence batch as a time plot with the windows above the threshold shaded', () => {
    const root = document.createElement('div');
    const steps = Array.from({ length: 64 }, (_, i) => i);
    const timeline = {
      sequence: 0,
      sequence_id: '0',
      length: 64,
      steps,
      labels: null,
      features: ['left', '<b>right</b>'],
      values: [steps.map(t => Math.sin(t / 4)), steps.map(t => (t === 10 ? null : Math.cos(t / 4)))],
      error: steps.map(t => (t >= 32 && t < 48 ? 3 : 0.1)),
      threshold: 2.5,
      windows: [
        { start: 0, end: 16, score: 0.3, over: false, id: '0-15' },
        { start: 16, end: 32, score: 0.4, over: false, id: '16-31' },
        { start: 32, end: 48, score: 4.2, over: true, id: '32-47' },
        { start: 48, end: 64, score: 0.2, over: false, id: '48-63' }
      ],
      downsampled: false
    };
    renderDrift(root, data({ summary: summary(true), histogram: null, samples: [card('32-47', true, 2)], timeline }));
    const chart = root.querySelector('svg.sf-drift-timeline');
    expect(chart).not.toBeNull();
    const shaded = chart!.querySelectorAll('rect.sf-drift-window-over');
    expect(shaded).toHaveLength(1);
    expect(shaded[0].getAttribute('data-start')).toBe('32');
    expect(shaded[0].querySelector('title')?.textContent).toBe('32-47: score 4.2');
    expect(chart!.querySelectorAll('path.sf-drift-series')).toHaveLength(2);
    // A missing value breaks the line instead of drawing it at zero.
    const second = chart!.querySelectorAll('path.sf-drift-series')[1].getAttribute('d') ?? '';
    expect(second.match(/M/g)).toHaveLength(2);
    expect(chart!.querySelector('path.sf-drift-error')).not.toBeNull();
    expect(root.querySelector('b')).toBeNull();
    expect(root.querySelector('.sf-drift-timeline-legend')?.textContent).toContain('<b>right</b>');
    expect(root.textContent).toContain('Most anomalous windows');
    // The batch counts windows, and the verdict says so.
    expect(root.querySelector('.sf-drift-verdict-test')?.textContent).toMatch(/\d+ windows against \d+ reference windows/);
    expect(root.querySelector('.sf-drift-share')?.textContent).toMatch(/ of \d+ windows /);
  });

  it('labels the time axis with the timestamps it was given', () => {
    const chart = renderTimeline(document, {
      sequence_id: '0',
      length: 3,
      steps: [0, 1, 2],
      labels: ['09:00', '09:01', '09:02'],
      features: ['a'],
      values: [[1, 2, 3]],
      error: [0, 0, 1],
      windows: [],
      downsampled: false
    });
    const labels = [...chart.querySelectorAll('.sf-drift-label')].map(l => l.textContent);
    expect(labels).toContain('09:00');
    expect(labels).toContain('09:02');
  });

  it('ignores a malformed timeline', () => {
    expect(data({ timeline: { steps: [1] } }).timeline).toBeNull();
    expect(data({ timeline: 'x' }).timeline).toBeNull();
    expect(data({}).checks).toEqual([]);
  });
});
