// bdcwatch operations pages: post the forms marked data-post as JSON and the forms marked
// data-upload as multipart (files), both with the CSRF token of the page (CONTRACT §7).
// Messages are shown with textContent, never as HTML.
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
  function pageCity() {
    var meta = document.querySelector('meta[name="bdcwatch-city"]');
    return meta ? meta.getAttribute("content") : "";
  }
  // After a change: the same page of the same city (the address names the city, in case
  // another tab has switched the city picker meanwhile).
  function reloadPage() {
    var city = pageCity();
    if (!city) { window.location.reload(); return; }
    var here = new URL(window.location.href);
    here.searchParams.set("city", city);
    window.location.assign(here.toString());
  }
  function send(form, url, init, done) {
    var message = form.querySelector(".form-message");
    var button = form.querySelector("button[type=submit]");
    if (button) button.disabled = true;
    if (message) { message.textContent = "提交中……"; message.className = "form-message"; }
    init.method = "POST";
    init.credentials = "same-origin";
    init.headers["X-CSRF-Token"] = csrfToken();
    // The city this page shows: a change goes to its ledger even when another tab has
    // switched the city picker's cookie meanwhile.
    if (pageCity()) init.headers["X-Bdcwatch-City"] = pageCity();
    fetch(url, init).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (data) {
        if (!response.ok) throw new Error(response.status + "：" + describe(response.status, data));
        done(data, message, button);
      });
    }).catch(function (error) {
      if (message) { message.textContent = "未能提交 — " + error.message; message.className = "form-message error"; }
      if (button) button.disabled = false;
    });
  }
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches) return;
    if (form.matches("form[data-post]")) {
      event.preventDefault();
      var body = {};
      new FormData(form).forEach(function (value, key) { body[key] = value; });
      send(form, form.getAttribute("data-post"), {
        headers: { "Content-Type": "application/json" }, body: JSON.stringify(body)
      }, function () { reloadPage(); });
    } else if (form.matches("form[data-upload]")) {
      event.preventDefault();
      var data = new FormData(form);
      var url = form.getAttribute("data-upload");
      var pathField = form.getAttribute("data-path-field");
      if (pathField) {  // a part of the URL chosen in the form, e.g. the duty's code
        url = url.replace("{code}", encodeURIComponent(String(data.get(pathField) || "")));
        data.delete(pathField);
      }
      form.querySelectorAll("input[type=file]").forEach(function (input) {
        if (!input.files || input.files.length === 0) data.delete(input.name);  // an optional file not chosen
      });
      send(form, url, { headers: {}, body: data }, function (answer, message, button) {
        if (form.hasAttribute("data-reload")) { reloadPage(); return; }
        if (message) { message.textContent = (answer && answer.summary) || "已提交"; message.className = "form-message ok"; }
        if (button) button.disabled = false;
      });
    }
  });
})();
