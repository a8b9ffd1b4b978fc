/** Maps a path inside the parsed data back to a line and column of the YAML source. */
import { isMap, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';

interface SourcePosition {
  line: number;
  column: number;
}

export type Locate = (segments: ReadonlyArray<string | number>, at?: 'key' | 'value') => SourcePosition;

/**
 * The deepest node the path reaches (a missing key points at its parent), at its key when `at`
 * is 'key' (an unknown key is reported where it is written, not at its value).
 */
export function locator(doc: Document, lines: LineCounter): Locate {
  return (segments, at = 'value') => {
    let node: unknown = doc.contents;
    let keyNode: Node | undefined;
    for (const seg of segments) {
      if (isMap(node)) {
        const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : p.key) === String(seg));
        if (!pair) break;
        keyNode = pair.key as Node;
        node = pair.value;
      } else if (isSeq(node) && typeof seg === 'number' && node.items[seg]) {
        keyNode = undefined;
        node = node.items[seg];
      } else break;
    }
    const target = (at === 'key' && keyNode) || (node as Node | null) || keyNode;
    const offset = target?.range?.[0] ?? 0;
    const pos = lines.linePos(offset);
    return { line: pos.line, column: pos.col };
  };
}
