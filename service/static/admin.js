/* The admin page's uploads, enhanced: drop files on the drop zone, and each file is sent on its own (an XHR per
   file, with the page's CSRF token) so it gets its own progress bar and its own result: the parse result, or the
   reason it was refused. Without this script the same forms post normally and the page lists the results. */
(function () {
  "use strict";

  function csrfOf(form) {
    return form.querySelector("input[name=csrf_token]").value;
  }

  function megabytes(bytes) {
    return (bytes / 1048576).toFixed(1) + " MB";
  }

  function describe(body) {
    var period = body.period ? ", " + body.period : "";
    return body.title + period + ": " + body.sections + " sections, " + body.paragraphs + " paragraphs (id " + body.id + ")";
  }

  function row(list, file) {
    var item = document.createElement("li");
    var name = document.createElement("span");
    name.className = "file";
    name.textContent = file.name;
    var bar = document.createElement("progress");
    bar.max = 100;
    bar.value = 0;
    bar.setAttribute("aria-label", "Uploading " + file.name);
    var text = document.createElement("span");
    text.className = "status";
    text.textContent = "Uploading…";
    item.append(name, " ", bar, " ", text);
    list.appendChild(item);
    return { item: item, bar: bar, text: text };
  }

  function finish(view, ok, message) {
    view.bar.remove();
    view.item.className = ok ? "ok" : "failed";
    view.text.textContent = (ok ? "Published: " : "Refused: ") + message;
  }

  function send(form, file, view) {
    return new Promise(function (resolve) {
      var limit = Number(form.dataset.maxBytes || 0);
      if (limit && file.size > limit) {
        finish(view, false, "the file is larger than the " + megabytes(limit) + " allowed.");
        resolve(false);
        return;
      }
      var data = new FormData();
      data.append("csrf_token", csrfOf(form));
      data.append("file", file, file.name);
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.setRequestHeader("X-CSRF-Token", csrfOf(form));
      xhr.upload.addEventListener("progress", function (event) {
        if (event.lengthComputable) view.bar.value = Math.round((100 * event.loaded) / event.total);
      });
      xhr.upload.addEventListener("load", function () {
        view.bar.removeAttribute("value"); // sent: indeterminate while it is parsed and indexed
        view.text.textContent = "Indexing…";
      });
      xhr.addEventListener("load", function () {
        var body = null;
        try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
        if (xhr.status >= 200 && xhr.status < 300 && body) {
          finish(view, true, describe(body));
          resolve(true);
        } else if (body && body.error) {
          finish(view, false, body.error.message);
          resolve(false);
        } else {
          finish(view, false, xhr.status === 413 ? "the file is too large." : "the server answered " + xhr.status + ".");
          resolve(false);
        }
      });
      xhr.addEventListener("error", function () {
        finish(view, false, "the upload did not reach the server; check the connection.");
        resolve(false);
      });
      xhr.send(data);
    });
  }

  async function refreshListing() {
    var response = await fetch(window.location.pathname, { credentials: "same-origin", headers: { Accept: "text/html" } });
    if (!response.ok) return;
    var fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    var current = document.querySelector("[aria-labelledby=list-heading]");
    var replacement = fresh.querySelector("[aria-labelledby=list-heading]");
    if (current && replacement) {
      current.querySelectorAll("form[data-upload]").forEach(function (form) { // keep what each row's upload said
        var fresh = replacement.querySelector('form[action="' + form.getAttribute("action") + '"] [data-results]');
        if (fresh) fresh.replaceWith(form.querySelector("[data-results]"));
      });
      current.replaceWith(replacement);
      replacement.querySelectorAll("form[data-upload]").forEach(enhance);
    }
  }

  async function upload(form, files) {
    var list = form.querySelector("[data-results]") || form.parentNode.querySelector("[data-results]");
    list.replaceChildren();
    var button = form.querySelector("button[type=submit]");
    button.disabled = true;
    var published = false;
    for (var i = 0; i < files.length; i++) { // one after another: the server indexes them one at a time anyway
      published = (await send(form, files[i], row(list, files[i]))) || published;
    }
    button.disabled = false;
    form.querySelector("input[type=file]").value = "";
    if (published) await refreshListing();
  }

  function enhance(form) {
    var input = form.querySelector("input[type=file]");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (input.files.length) upload(form, Array.from(input.files));
    });
    var zone = form.querySelector(".drop");
    if (!zone) return;
    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (event) {
        event.preventDefault();
        zone.classList.add("over");
      });
    });
    ["dragleave", "drop"].forEach(function (name) {
      zone.addEventListener(name, function () { zone.classList.remove("over"); });
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      if (event.dataTransfer && event.dataTransfer.files.length) upload(form, Array.from(event.dataTransfer.files));
    });
  }

  document.querySelectorAll("form[data-upload]").forEach(enhance);
})();
