import { PROGRESS, percentSettled, progressSegments } from "../campaigns.js";

/** A campaign's rows by state: a stacked bar (SVG, coloured by class: the CSP allows
 * no inline style) and, with `counts`, the figures under it. */
export function ProgressBar({ progress, counts = false, id }) {
  const segments = progressSegments(progress);
  const settled = percentSettled(progress);
  return (
    <div class="campaign-progress" id={id}>
      <svg viewBox="0 0 100 6" preserveAspectRatio="none" role="img" aria-label={`${settled}% of ${progress.total} rows settled`} data-settled={settled}>
        <rect x="0" y="0" width="100" height="6" class="track" />
        {segments.map((segment) => (
          <rect x={segment.x} y="0" width={segment.width} height="6" class={`state-${segment.key}`} data-state={segment.key} data-count={segment.count}>
            <title>
              {segment.label}: {segment.count}
            </title>
          </rect>
        ))}
      </svg>
      {counts && (
        <dl class="progress-counts">
          <div>
            <dt>Total</dt>
            <dd data-count="total">{progress.total}</dd>
          </div>
          {PROGRESS.map(([key, label]) => (
            <div>
              <dt>
                <i class={`swatch state-${key}`} aria-hidden="true" /> {label}
              </dt>
              <dd data-count={key}>{progress[key] || 0}</dd>
            </div>
          ))}
        </dl>
      )}
    </div>
  );
}
