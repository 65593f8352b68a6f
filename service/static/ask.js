// The ask form: posts the question to the JSON API and shows the answer with its citations.
// Everything that comes from the question or the bulletins is written with textContent, never as HTML.
(function () {
  "use strict";

  var form = document.getElementById("ask");
  if (!form) return;
  var question = document.getElementById("question");
  var status = document.getElementById("status");
  var result = document.getElementById("result");
  var answer = document.getElementById("answer");
  var citations = document.getElementById("citations");
  var restart = document.getElementById("new-conversation");
  var conversationId = null;

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function safeHref(url) {
    try {
      var parsed = new URL(url, window.location.href);
      return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
    } catch (e) {
      return null;
    }
  }

  function setStatus(text, isError) {
    status.textContent = text;
    status.className = isError ? "status error" : "status";
  }

  function show(data) {
    answer.textContent = data.answer;
    answer.className = data.answerable ? "answer" : "answer unanswerable";
    citations.replaceChildren();
    (data.citations || []).forEach(function (c) {
      var item = element("li");
      item.value = c.n;
      var where = element("div", "where");
      var href = safeHref(c.url);
      var title = c.bulletin_title + (c.period ? ", " + c.period : "");
      if (href) {
        var link = element("a", null, title);
        link.href = href;
        where.appendChild(link);
      } else {
        where.appendChild(element("span", null, title));
      }
      where.appendChild(document.createTextNode(" — " + c.section));
      item.appendChild(where);
      item.appendChild(element("blockquote", null, c.quote));
      citations.appendChild(item);
    });
    result.hidden = false;
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = question.value.trim();
    if (!text) {
      setStatus("Type a question first.", true);
      return;
    }
    var body = { question: text };
    if (conversationId) body.conversation_id = conversationId;
    var button = form.querySelector("button[type=submit]");
    button.disabled = true;
    setStatus("Searching the bulletins…", false);
    fetch(form.action, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(body)
    })
      .then(function (response) {
        return response.json().then(function (data) { return { ok: response.ok, data: data }; });
      })
      .then(function (reply) {
        if (!reply.ok) {
          if (reply.data && reply.data.error && reply.data.error.code === "conversation_not_found") {
            conversationId = null;
            restart.hidden = true;
          }
          var message = reply.data && reply.data.error ? reply.data.error.message : "The request failed.";
          setStatus(message, true);
          return;
        }
        conversationId = reply.data.conversation_id;
        restart.hidden = false;
        setStatus("", false);
        show(reply.data);
      })
      .catch(function () {
        setStatus("Could not reach the service.", true);
      })
      .finally(function () {
        button.disabled = false;
      });
  });

  restart.addEventListener("click", function () {
    conversationId = null;
    restart.hidden = true;
    result.hidden = true;
    question.value = "";
    setStatus("New conversation.", false);
    question.focus();
  });
})();
