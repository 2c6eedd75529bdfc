// The desk's shared script: the CSRF token for scripted requests, and confirmation for
// buttons that ask for it. Pages add their own files next to this one.
"use strict";
window.desk = {
  /** The session's CSRF token, from <meta name="csrf-token">. */
  csrf() {
    const m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.content : "";
  },
  /** A state-changing request with the CSRF header; resolves to the parsed JSON (or text). */
  async send(method, url, body) {
    const headers = { "X-CSRF-Token": desk.csrf() };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const res = await fetch(url, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (res.status === 401) {
      location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
      throw new Error("未登录");
    }
    const type = res.headers.get("Content-Type") || "";
    const data = type.includes("json") ? await res.json() : await res.text();
    if (!res.ok) throw new Error((data && data.error) || res.statusText);
    return data;
  },
  post(url, body) {
    return desk.send("POST", url, body);
  },
};
document.addEventListener("submit", (e) => {
  const ask = e.target.getAttribute("data-confirm");
  if (ask && !window.confirm(ask)) e.preventDefault();
});
