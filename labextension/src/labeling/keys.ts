/**
 * Which key labels which class. When every class is one character of 0-9 or a-z (digits, letters), the key is the
 * class itself: on digits, 2 labels "2" and 0 labels "0". Otherwise keys 1-9 label the first nine classes in order.
 * Skip (x) and undo (z) give way to a class of that name (undo stays on Backspace; skip moves to ".").
 */

export interface LabelKeys {
  /** key -> class name */
  readonly labels: ReadonlyMap<string, string>;
  /** Whether the keys are the class names themselves. */
  readonly byName: boolean;
  readonly skip: string;
  /** Undo's letter key, or null when a class took it (Backspace always undoes). */
  readonly undo: string | null;
}

export function labelKeys(classes: readonly string[]): LabelKeys {
  const byName = classes.length > 0 && classes.every(c => /^[0-9a-z]$/.test(c)) && new Set(classes).size === classes.length;
  const labels = new Map<string, string>();
  if (byName) {
    classes.forEach(c => labels.set(c, c));
  } else {
    classes.slice(0, 9).forEach((c, i) => labels.set(String(i + 1), c));
  }
  return {
    labels,
    byName,
    skip: labels.has('x') ? '.' : 'x',
    undo: labels.has('z') ? null : 'z'
  };
}

/** The key that labels `name`, or null. */
export function keyOf(keys: LabelKeys, name: string): string | null {
  for (const [key, value] of keys.labels) {
    if (value === name) {
      return key;
    }
  }
  return null;
}

/** A class button's text: the class (its own key) when keys are names, else "key · class" for the first nine. */
export function buttonText(keys: LabelKeys, name: string): string {
  const key = keyOf(keys, name);
  return keys.byName || key === null ? name : `${key} · ${name}`;
}
