// Live delivery progress on the admin pages: polls each digest still being sent and
// updates its bar and figures. Without script the pages refresh themselves instead.
"use strict";

function watch(block) {
  const id = block.dataset.digest;
  const field = (name) => block.querySelectorAll(`[data-field="${name}"]`);
  const set = (name, value) => field(name).forEach((el) => { el.textContent = value; });
  const tick = async () => {
    try {
      const response = await fetch(`/admin/digests/${id}/progress`, { credentials: "same-origin" });
      if (!response.ok) return;
      const data = await response.json();
      block.querySelector("progress").value = data.percent;
      set("percent", data.percent);
      for (const name of ["sent", "recipients", "failed", "pending"]) set(name, data.progress[name]);
      document.querySelectorAll(`[data-field="status"]`).forEach((el) => { el.textContent = data.status; });
      block.dataset.status = data.status;
      if (data.status === "sending") setTimeout(tick, 700);
    } catch (_) {
      setTimeout(tick, 3000);
    }
  };
  tick();
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll('.progress[data-status="sending"]').forEach(watch);
});
