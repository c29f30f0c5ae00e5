/**
 * @module bench/ann/benchmarks-file
 * Reads back the curves `npm run bench:ann` published, so the SQL-over-HTTP benchmark can set its figures
 * beside the in-process ones and hnswlib-node's without rebuilding both indexes. The parser
 * knows the table layout bench/ann.ts writes (`| ef | Quiver recall@10 | Quiver QPS |
 * hnswlib-node recall@10 | hnswlib-node QPS |` under a "### N vectors" heading); if that
 * layout changes it finds nothing, and the caller says so rather than guessing.
 */
import { readSection } from '../lib/benchmarks-file.ts';

export interface CurvePoint {
  ef: number;
  recall: number;
  qps: number;
}

/** One ef sweep of the bench:ann section: Quiver in-process and hnswlib-node, point by point. */
export interface PublishedCurve {
  quiver: CurvePoint[];
  hnswlib: CurvePoint[];
}

export interface PublishedAnn {
  /** The "Run YYYY-MM-DD" date of the section. */
  date: string | null;
  unfiltered: PublishedCurve | null;
  /** Keyed by the share kept, as bench/ann.ts names its filters: '10%', '1%'. */
  filtered: Record<string, PublishedCurve | null>;
}

/** The bench:ann curves for a base of `size` vectors, or null if the section has no such size. */
export function readPublishedAnn(size: number): PublishedAnn | null {
  const section = readSection('bench:ann');
  if (section === null) return null;
  const heading = `### ${size.toLocaleString('en-US')} vectors`;
  const at = section.indexOf(heading);
  if (at < 0) return null;
  const rest = section.slice(at + heading.length);
  const nextHeading = rest.indexOf('\n### ');
  const body = nextHeading < 0 ? rest : rest.slice(0, nextHeading);
  return {
    date: /Run (\d{4}-\d{2}-\d{2})/.exec(section)?.[1] ?? null,
    unfiltered: curveAfter(body, 'Unfiltered, recall@10 and QPS by ef:'),
    filtered: {
      '10%': curveAfter(body, 'Filter keeping 10% of rows:'),
      '1%': curveAfter(body, 'Filter keeping 1% of rows:'),
    },
  };
}

/** The table right after the line `label`; null if the label or its rows are missing. */
function curveAfter(body: string, label: string): PublishedCurve | null {
  const at = body.indexOf(label);
  if (at < 0) return null;
  const curve: PublishedCurve = { quiver: [], hnswlib: [] };
  let inTable = false;
  for (const line of body.slice(at + label.length).split('\n')) {
    const trimmed = line.trim();
    if (!trimmed.startsWith('|')) {
      if (inTable) break;
      continue;
    }
    inTable = true;
    const cells = trimmed.split('|').slice(1, -1).map((c) => Number(c.trim().replace(/,/g, '')));
    if (cells.length !== 5 || cells.some((c) => !Number.isFinite(c))) continue; // header and rule rows
    const [ef, qRecall, qQps, hRecall, hQps] = cells;
    curve.quiver.push({ ef, recall: qRecall, qps: qQps });
    curve.hnswlib.push({ ef, recall: hRecall, qps: hQps });
  }
  return curve.quiver.length > 0 ? curve : null;
}
