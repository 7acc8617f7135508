// The JSON API, with the optional bearer token: sent on every call when the
// tab has one; a 401 opens the token prompt and the call is retried with the
// token given. Without a configured token on the server, no prompt appears.

const TOKEN_KEY = "lineage.token";

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

export function storedToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) || "";
  } catch {
    return ""; // storage disabled: every call goes without a token
  }
}

function storeToken(token) {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    /* storage disabled */
  }
}

// One prompt however many calls were refused at once.
let pending = null;
// After a Cancel, background polls stop prompting until a token is given.
let declined = false;

export function askForToken(message) {
  if (pending) return pending;
  const dialog = document.getElementById("token-dialog");
  const form = document.getElementById("token-form");
  const input = document.getElementById("token-input");
  const cancel = document.getElementById("token-cancel");
  document.getElementById("token-message").textContent =
    message || "This server asks for a bearer token. It is kept in this tab only (sessionStorage).";
  input.value = storedToken();
  pending = new Promise((resolve, reject) => {
    const done = (token) => {
      form.removeEventListener("submit", onSubmit);
      cancel.removeEventListener("click", onCancel);
      dialog.removeEventListener("cancel", onCancel);
      if (dialog.open) dialog.close();
      pending = null;
      if (token === null) {
        declined = true;
        reject(new ApiError(401, { error: "a token is needed" }));
      } else {
        declined = false;
        storeToken(token);
        resolve(token);
      }
    };
    const onSubmit = (event) => {
      event.preventDefault();
      done(input.value.trim());
    };
    const onCancel = (event) => {
      event.preventDefault();
      done(null);
    };
    form.addEventListener("submit", onSubmit);
    cancel.addEventListener("click", onCancel);
    dialog.addEventListener("cancel", onCancel);
  });
  dialog.showModal();
  input.focus();
  return pending;
}

// GET `path` with `params`; resolves to the decoded JSON, rejects with ApiError.
// `interactive: false` (background polls) never opens the prompt by itself
// after the user cancelled it once.
export async function getJson(path, params = {}, { interactive = true } = {}) {
  const url = new URL(path, window.location.origin);
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, String(value));
  }
  for (;;) {
    const headers = { Accept: "application/json" };
    const token = storedToken();
    if (token) headers.Authorization = `Bearer ${token}`;
    const response = await fetch(url, { headers, cache: "no-store" });
    let body = null;
    try {
      body = await response.json();
    } catch {
      body = null;
    }
    if (response.status === 401) {
      if (!interactive && declined) {
        throw new ApiError(401, body);
      }
      await askForToken(token ? "That token was refused; enter another one." : "");
      continue;
    }
    if (!response.ok) throw new ApiError(response.status, body);
    return body;
  }
}
