// Watchlist pages: new watchlist and listing forms, the listing page (enrolment with immediate
// feedback, approval, removal, audited photo viewing) and bulk import with progress. Every change
// goes through the API, which checks role, zone and the two-person rule again. Text from the
// server is only ever set with textContent (names and notes are user-supplied).

function csrfToken() {
  return document.querySelector("meta[name=csrf-token]")?.content ?? "";
}

// fetch + JSON, throwing an Error whose message is the API's sentence for the user.
export async function api(url, { method = "GET", json, form } = {}) {
  const headers = { Accept: "application/json", "X-CSRFToken": csrfToken() };
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = form;
  }
  const response = await fetch(url, { method, headers, body, credentials: "same-origin" });
  const data = response.status === 204 ? {} : await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(describeError(data, response.status));
    error.data = data;
    error.status = response.status;
    throw error;
  }
  return data;
}

// An audited read (a face image, an evidence zip) is a POST with the purpose in the body and the
// page's CSRF token, never a GET: a link or an <img> on another site cannot make this browser
// record a read with a purpose its user never stated.
export function auditedReadInit(purpose, token = csrfToken()) {
  return {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": token },
    body: JSON.stringify({ purpose: String(purpose ?? "").trim() }),
  };
}

// The response of an audited read; an Error with the API's sentence when it was refused.
export async function auditedRead(url, purpose) {
  const response = await fetch(url, auditedReadInit(purpose));
  if (!response.ok) {
    const data = await response.json().catch(() => ({}));
    const error = new Error(describeError(data, response.status));
    error.status = response.status;
    throw error;
  }
  return response;
}

// Show an audited image in an <img>: read it (POST), then point the image at the bytes.
export async function auditedImage(image, url, purpose) {
  const blob = await (await auditedRead(url, purpose)).blob();
  image.src = URL.createObjectURL(blob);
}

export function describeError(data, status) {
  if (status === 429) return "Too many requests: wait a minute and try again.";
  if (data?.errors && typeof data.errors === "object") {
    const parts = Object.entries(data.errors).map(([field, messages]) => `${field}: ${[].concat(messages).join(" ")}`);
    if (parts.length) return parts.join("; ");
  }
  return data?.message || `The request failed (HTTP ${status}).`;
}

function say(element, text, kind = "ok") {
  if (!element) return;
  element.textContent = text;
  element.dataset.kind = kind;
}

function busy(form, on) {
  for (const button of form.querySelectorAll("button")) button.disabled = on;
}

// --- new watchlist --------------------------------------------------------------------------
// A form whose submit runs `work(formData)` with its buttons disabled; a refusal is shown in the
// form's result line.
function onSubmit(form, work) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    busy(form, true);
    try {
      await work(new FormData(form));
    } catch (error) {
      say(form.querySelector(".result"), error.message, "error");
    } finally {
      busy(form, false);
    }
  });
}

function initWatchlistForm() {
  const form = document.getElementById("watchlist-form");
  if (!form) return;
  onSubmit(form, async (data) => {
    await api(form.dataset.api, {
      method: "POST",
      json: {
        name: data.get("name"),
        category: data.get("category"),
        priority: Number(data.get("priority")),
        zone: Number(data.get("zone")),
        match_threshold: Number(data.get("match_threshold")),
      },
    });
    window.location.reload();
  });
}

// --- new listing ----------------------------------------------------------------------------
export function endOfDay(dateText) {
  // The listing stops matching at the end of the chosen day, in the browser's time zone.
  const [year, month, day] = dateText.split("-").map(Number);
  return new Date(year, month - 1, day, 23, 59, 59).toISOString();
}

export function splitAliases(text) {
  return text.split(";").map((part) => part.trim()).filter(Boolean);
}

function initSubjectForm() {
  const form = document.getElementById("subject-form");
  if (!form) return;
  onSubmit(form, async (data) => {
    const subject = await api(form.dataset.api, {
      method: "POST",
      json: {
        watchlist: Number(data.get("watchlist")),
        full_name: data.get("full_name"),
        aliases: splitAliases(String(data.get("aliases") ?? "")),
        case_reference: data.get("case_reference"),
        legal_basis: data.get("legal_basis"),
        notes: data.get("notes"),
        expires_at: endOfDay(String(data.get("expires_at"))),
        submit: !data.get("draft"),
      },
    });
    window.location.assign(`${form.dataset.detailUrl}${subject.id}/`);
  });
}

// --- listing page ---------------------------------------------------------------------------
function initSubjectPage() {
  const page = document.getElementById("subject-page");
  if (!page) return;
  const result = page.querySelector("[data-testid=action-result]");

  async function act(action, json) {
    try {
      await api(`${page.dataset.api}${action}/`, { method: "POST", json });
      window.location.reload();
    } catch (error) {
      say(result, error.message, "error");
    }
  }
  for (const button of page.querySelectorAll("button[data-action]")) {
    button.addEventListener("click", () => act(button.dataset.action));
  }
  for (const form of page.querySelectorAll("form[data-action]")) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      act(form.dataset.action, { reason: new FormData(form).get("reason") });
    });
  }

  const viewer = document.getElementById("photo-viewer");
  viewer?.addEventListener("submit", (event) => {
    event.preventDefault();
    // Every view of an enrolled photo is an audit event with this purpose (a POST, see auditedRead).
    const purpose = String(new FormData(viewer).get("purpose"));
    for (const image of page.querySelectorAll("img[data-src]")) {
      auditedImage(image, image.dataset.src, purpose)
        .then(() => {
          image.hidden = false;
        })
        .catch((error) => image.replaceWith(Object.assign(document.createElement("p"), { textContent: error.message })));
    }
  });

  const photoForm = document.getElementById("photo-form");
  photoForm?.addEventListener("submit", (event) => {
    event.preventDefault();
    enrol(photoForm, page, null);
  });
}

async function enrol(form, page, box) {
  const status = form.querySelector("[data-testid=enrol-result]");
  const choices = form.querySelector("[data-testid=face-choices]");
  const data = new FormData(form);
  const body = new FormData();
  body.append("subject", page.dataset.subject);
  body.append("image", data.get("image"));
  if (data.get("source")) body.append("source", data.get("source"));
  if (data.get("captured_on")) body.append("captured_on", data.get("captured_on"));
  if (box) for (const value of box) body.append("box", String(value));
  busy(form, true);
  say(status, "Enrolling… (finding the face and making its template)", "busy");
  choices.replaceChildren();
  try {
    const photo = await api(page.dataset.photosApi, { method: "POST", form: body });
    const quality = photo.templates[0]?.quality ?? {};
    say(
      status,
      `Enrolled: face ${Math.round(quality.face_px ?? 0)} px, eyes ${Math.round(quality.interocular_px ?? 0)} px apart.`,
      "ok",
    );
    window.setTimeout(() => window.location.reload(), 800);
  } catch (error) {
    say(status, error.message, "error");
    if (error.data?.code === "multiple_faces") offerFaces(form, page, error.data.boxes ?? []);
  } finally {
    busy(form, false);
  }
}

function offerFaces(form, page, boxes) {
  const choices = form.querySelector("[data-testid=face-choices]");
  boxes.forEach((box, index) => {
    const button = document.createElement("button");
    button.type = "button";
    const [x1, y1, x2, y2] = box.map(Math.round);
    button.textContent = `Enrol face ${index + 1} (at ${x1},${y1}, ${x2 - x1} px wide)`;
    button.addEventListener("click", () => enrol(form, page, box));
    choices.appendChild(button);
  });
}

// --- bulk import ----------------------------------------------------------------------------
function initImport() {
  const form = document.getElementById("import-form");
  if (!form) return;
  const progress = document.getElementById("import-progress");
  onSubmit(form, async (data) => {
    const body = new FormData();
    body.append("archive", data.get("archive"));
    const job = await api(form.dataset.api, { method: "POST", form: body });
    say(form.querySelector(".result"), "Import queued.", "ok");
    progress.hidden = false;
    await follow(`${form.dataset.jobsUrl}${job.id}/`, progress);
  });
}

async function follow(url, progress) {
  const bar = progress.querySelector("progress");
  const status = progress.querySelector("[data-testid=import-status]");
  const rejected = progress.querySelector("[data-testid=import-rejected]");
  for (;;) {
    const job = await api(url);
    bar.max = Math.max(1, job.total_rows);
    bar.value = job.processed_rows;
    say(
      status,
      `${job.status}: ${job.processed_rows} of ${job.total_rows} rows, ${job.subjects_created} listings created, ` +
        `${job.photos_enrolled} photos enrolled, ${job.rejected.length} rejected${job.error ? ` (${job.error})` : ""}`,
      job.status === "failed" ? "error" : "ok",
    );
    rejected.replaceChildren(
      ...job.rejected.map((item) => {
        const row = document.createElement("tr");
        for (const text of [item.row, item.photo || "—", item.message]) {
          const cell = document.createElement("td");
          cell.textContent = String(text);
          row.appendChild(cell);
        }
        return row;
      }),
    );
    progress.dataset.state = job.status;
    if (job.status === "done" || job.status === "failed") return;
    await new Promise((resolve) => window.setTimeout(resolve, 1000));
  }
}

// Pages only (node's test runner imports this module for its pure functions).
if (typeof document !== "undefined") {
  initWatchlistForm();
  initSubjectForm();
  initSubjectPage();
  initImport();
}
