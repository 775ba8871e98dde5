// The Previous / Page N / Next bar every paged list shares, and the page number read
// from the URL (lists keep their page in `?page=`, so Back and a reload keep it).

/** The 1-based page named by `?page=` (anything else: the first). */
export function pageOf(query) {
  return Math.max(1, Number.parseInt(query.get("page") || "1", 10) || 1);
}

/** `onPage(n)` with the page wanted; `more` whether a next page exists (lists ask for
 * one row more than a page to know, without a count query). */
export function Pager({ page, more, onPage, label = "Pages" }) {
  return (
    <nav class="pager" aria-label={label}>
      <button type="button" class="secondary" id="previous-page" disabled={page <= 1} onClick={() => onPage(page - 1)}>
        Previous
      </button>
      <span id="page-number">Page {page}</span>
      <button type="button" class="secondary" id="next-page" disabled={!more} onClick={() => onPage(page + 1)}>
        Next
      </button>
    </nav>
  );
}
