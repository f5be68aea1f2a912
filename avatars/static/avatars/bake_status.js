/*
 * The avatar list's Status column follows running bakes by itself: while a row shows "Baking",
 * its status, and the reason of a failure, are asked for every two seconds and shown in place.
 * Nothing is asked when no bake runs.
 */
(() => {
  "use strict";

  const POLL_MS = 2000;
  const cells = () => Array.from(document.querySelectorAll(".bake-status[data-avatar]"));

  function show(row) {
    for (const cell of cells()) {
      if (cell.dataset.avatar !== String(row.id)) continue;
      cell.dataset.status = row.status;
      cell.textContent = row.label;
      const reason = cell.parentElement.querySelector(".bake-reason");
      if (reason) reason.textContent = row.reason;
    }
  }

  async function poll() {
    const baking = cells().filter((cell) => cell.dataset.status === "baking");
    if (!baking.length) return;
    const query = new URLSearchParams(baking.map((cell) => ["id", cell.dataset.avatar]));
    try {
      const response = await fetch(new URL(`bake-status/?${query}`, location.href), {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (response.ok) (await response.json()).avatars.forEach(show);
    } catch (_) {
      // the next poll tries again: a server restart must not stop the column for good
    }
    setTimeout(poll, POLL_MS);
  }

  const start = () => setTimeout(poll, POLL_MS);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
