// bdcwatch operations pages: post the forms marked data-post as JSON, with the CSRF token
// of the page (CONTRACT §7). Messages are shown with textContent, never as HTML.
(function () {
  "use strict";
  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }
  function describe(status, body) {
    if (body && typeof body.detail === "string") return body.detail;
    if (body && Array.isArray(body.detail)) return body.detail.map(function (d) { return d.msg; }).join("；");
    return "HTTP " + status;
  }
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("form[data-post]")) return;
    event.preventDefault();
    var message = form.querySelector(".form-message");
    var button = form.querySelector("button[type=submit]");
    var body = {};
    new FormData(form).forEach(function (value, key) { body[key] = value; });
    if (button) button.disabled = true;
    if (message) { message.textContent = "提交中……"; message.className = "form-message"; }
    fetch(form.getAttribute("data-post"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
      body: JSON.stringify(body)
    }).then(function (response) {
      if (response.ok) { window.location.reload(); return null; }
      return response.json().catch(function () { return null; }).then(function (data) {
        throw new Error(response.status + "：" + describe(response.status, data));
      });
    }).catch(function (error) {
      if (message) { message.textContent = "未能提交 — " + error.message; message.className = "form-message error"; }
      if (button) button.disabled = false;
    });
  });
})();
