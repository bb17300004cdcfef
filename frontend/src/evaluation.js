// Evaluation report page: a supervisor previews the threshold a report gives one of their
// watchlists for a target FPIR, then sets it. The API checks role and zone again and answers a
// refusal with a sentence, shown as it is. Text from the server is set with textContent only.
import { api } from "./watchlists.js";

// 0.000931 -> "0.093%": two significant digits below 1%, two decimals above (as the report does).
export function percentText(value) {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  const p = value * 100;
  if (p === 0) return "0%";
  if (Math.abs(p) >= 1) return `${p.toFixed(2)}%`;
  const decimals = Math.min(10, 1 - Math.floor(Math.log10(Math.abs(p))));
  return `${p.toFixed(decimals)}%`;
}

// The API's preview as one sentence for the supervisor.
export function previewText(preview) {
  const threshold = Number(preview.threshold).toFixed(4);
  const now = Number(preview.current_threshold).toFixed(4);
  const size = `${preview.gallery_size} template${preview.gallery_size === 1 ? "" : "s"}`;
  let text = `Threshold ${now} → ${threshold} for FPIR ${preview.target_fpir} on a list of ${size}: ` +
    `expected FPIR ${percentText(preview.fpir_expected)} (at most ${percentText(preview.fpir_upper)} at 95% confidence); ` +
    `per-comparison false-accept rate needed ${Number(preview.far_required).toPrecision(3)}.`;
  if (preview.clamped) {
    text += ` The report's scores give ${Number(preview.threshold_measured).toFixed(4)}, outside the allowed bounds; ${threshold} would be set.`;
  }
  return text;
}

function initCalibrateForm() {
  const form = document.getElementById("calibrate-form");
  if (!form) return;
  const select = form.querySelector("select[name=watchlist]");
  const target = form.querySelector("input[name=target_fpir]");
  const apply = form.querySelector("[data-testid=calibrate-apply]");
  const result = form.querySelector("[data-testid=calibrate-result]");
  let previewed = null; // the inputs the shown preview is for: "set" applies only those
  const inputs = () => `${select.value}|${target.value}`;

  function say(text, kind) {
    result.textContent = text;
    result.dataset.kind = kind;
  }

  async function send(applyIt) {
    for (const button of form.querySelectorAll("button")) button.disabled = true;
    try {
      const answer = await api(select.selectedOptions[0].dataset.api, {
        method: "POST",
        json: { report: Number(form.dataset.report), target_fpir: Number(target.value), apply: applyIt },
      });
      if (applyIt) {
        say(`Threshold set to ${Number(answer.threshold).toFixed(4)}.`, "ok");
        window.location.reload();
        return;
      }
      say(previewText(answer), "ok");
      previewed = inputs();
    } catch (error) {
      say(error.message, "error");
      previewed = null;
    } finally {
      form.querySelector("button[type=submit]").disabled = false;
      apply.disabled = previewed === null || previewed !== inputs();
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    send(false);
  });
  apply.addEventListener("click", () => send(true));
  form.addEventListener("input", () => {
    apply.disabled = previewed !== inputs();
  });
}

if (typeof document !== "undefined") initCalibrateForm();
