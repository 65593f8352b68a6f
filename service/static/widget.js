// The bqa chat widget. A site embeds it with one tag:
//   <script src="https://HOST/widget.js" data-bqa-api="https://HOST" data-title="Ask the bulletins" defer></script>
// (optionally data-theme="dark" or "light"; without it the widget follows the reader's prefers-color-scheme).
// It adds a launcher button that opens a chat panel; answers stream in from POST /api/v1/ask/stream and cite the
// bulletin paragraphs they quote.
//
// Why it is built the way it is:
// - Plain JavaScript, no build step: the server serves this file as it is (with its version filled in).
// - Everything lives in a shadow root, so the page's CSS cannot break the widget and the widget's cannot break
//   the page. Styles come from widget.css on the same server through a <link>, never from inline styles, so the
//   widget also runs under a strict Content-Security-Policy (style-src 'self' on bqa's own pages).
// - Questions and bulletin text reach the DOM only as text (textContent, createTextNode): a question or a
//   bulletin containing markup is shown, never run.
// - The answer streams into the message log, which is not a live region; screen readers hear the answer once,
//   complete, from a separate status region.
// - The conversation (its id and the messages shown) is kept in sessionStorage: it survives reloads and
//   navigation in the same tab, and ends with the tab.
// - A typing indicator stands in for the answer until its first words arrive, and follows them until it is
//   complete. With an LLM the answer arrives a checked sentence at a time, seconds apart; an extractive quote at
//   once. Stop aborts the request (AbortController). A stopped answer is not shown in part: an answer without
//   its citations is what bqa never shows.
// - A citation's popover floats next to its chip, below it or above it near the bottom edge, always inside the
//   panel and the viewport.
// - When the browser refuses the request because this site's origin is not allowed (CORS), fetch says no more
//   than "network error"; /api/v1/origin, readable from anywhere, tells that apart, so the widget can say what
//   the site's owner must do instead of "check your connection".
(function () {
  "use strict";

  var VERSION = "__BQA_WIDGET_VERSION__";
  if (window.__bqaWidget) return; // the tag pasted twice: one widget
  window.__bqaWidget = VERSION;

  var script = document.currentScript || document.querySelector("script[data-bqa-api]") ||
    document.querySelector('script[src*="widget.js"]');
  if (!script) return;
  var scriptUrl = new URL(script.src, window.location.href);
  var API = (script.getAttribute("data-bqa-api") || scriptUrl.origin).replace(/\/+$/, "");
  var TITLE = script.getAttribute("data-title") || "Ask the bulletins";
  var THEME = script.getAttribute("data-theme"); // "dark", "light", or anything else: follow the system
  var STORAGE_KEY = "bqa-widget:" + API;
  var MAX_QUESTION = 2000;
  var SVG = "http://www.w3.org/2000/svg";
  var ICONS = {
    chat: "M20 2H4c-1.1 0-2 .9-2 2v18l4-4h14c1.1 0 2-.9 2-2V4c0-1.1-.9-2-2-2z",
    close: "M19 6.41 17.59 5 12 10.59 6.41 5 5 6.41 10.59 12 5 17.59 6.41 19 12 13.41 17.59 19 19 17.59 13.41 12z",
    restart: "M17.65 6.35A7.96 7.96 0 0 0 12 4a8 8 0 1 0 7.73 10h-2.08A6 6 0 1 1 12 6c1.66 0 3.14.69 4.22 " +
      "1.78L13 11h7V4l-2.35 2.35z",
    send: "M2.01 21 23 12 2.01 3 2 10l15 2-15 2z",
    thumb: "M1 21h4V9H1v12zm22-11c0-1.1-.9-2-2-2h-6.31l.95-4.57.03-.32c0-.41-.17-.79-.44-1.06L14.17 1 " +
      "7.59 7.59C7.22 7.95 7 8.45 7 9v10c0 1.1.9 2 2 2h9c.83 0 1.54-.5 1.84-1.22l3.02-7.05c.09-.23.14-.47" +
      ".14-.73v-2z",
    external: "M19 19H5V5h7V3H5a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h14c1.1 0 2-.9 2-2v-7h-2v7zM14 3v2h3.59l-9.83 " +
      "9.83 1.41 1.41L19 6.41V10h2V3h-7z",
    info: "M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm1 15h-2v-6h2v6zm0-8h-2V7h2v2z",
    stop: "M6 6h12v12H6z",
    copy: "M16 1H4a2 2 0 0 0-2 2v14h2V3h12V1zm3 4H8a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h11a2 2 0 0 0 2-2V7a2 2 0 0 " +
      "0-2-2zm0 16H8V7h11v14z"
  };
  var POPOVER_GAP = 6; // px between a chip and its popover
  var POPOVER_MARGIN = 8; // px the popover keeps from the panel's and the viewport's edges

  // --- small DOM helpers: text only ever through textContent -----------------------------------------------

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function icon(name, flipped) {
    var svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("class", "icon");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    var path = document.createElementNS(SVG, "path");
    path.setAttribute("d", ICONS[name]);
    if (flipped) path.setAttribute("transform", "rotate(180 12 12)");
    svg.appendChild(path);
    return svg;
  }

  function iconButton(name, label, className, flipped) {
    var button = el("button", "icon-button" + (className ? " " + className : ""));
    button.type = "button";
    button.setAttribute("aria-label", label);
    button.title = label;
    button.appendChild(icon(name, flipped));
    return button;
  }

  function safeHref(url) {
    try {
      var parsed = new URL(url, API + "/");
      return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
    } catch (e) {
      return null;
    }
  }

  var uid = 0;
  function nextId(prefix) {
    uid += 1;
    return "bqa-" + prefix + "-" + uid;
  }

  // --- the conversation, kept per tab ------------------------------------------------------------------------

  function emptyState(open) {
    return { conversationId: null, messages: [], open: !!open };
  }

  function loadState() {
    try {
      var saved = JSON.parse(window.sessionStorage.getItem(STORAGE_KEY) || "null");
      if (saved && Array.isArray(saved.messages)) return saved;
    } catch (e) { /* storage blocked or corrupt: start afresh */ }
    return emptyState(false);
  }

  var state = loadState();

  function save() {
    try {
      window.sessionStorage.setItem(STORAGE_KEY, JSON.stringify(state));
    } catch (e) { /* storage full or blocked: the conversation just won't survive a reload */ }
  }

  // --- talking to the API ------------------------------------------------------------------------------------

  function WidgetError(message, code, retryAfter) {
    this.message = message;
    this.code = code || "error";
    this.retryAfter = retryAfter;
  }

  function post(path, body, signal) {
    return fetch(API + path, {
      method: "POST",
      mode: "cors",
      credentials: "omit",
      headers: { "Content-Type": "application/json", "Accept": "text/event-stream, application/json" },
      body: JSON.stringify(body),
      signal: signal
    });
  }

  // A fetch failed without a response: this site's origin refused (CORS), or the service out of reach?
  async function unreachable() {
    try {
      var response = await fetch(API + "/api/v1/origin", { mode: "cors", credentials: "omit", cache: "no-store" });
      var data = await response.json();
      if (data && data.allowed === false) {
        var site = data.origin || window.location.origin;
        var message = "This site (" + site + ") is not allowed to use the bulletin service at " + API +
          ". If you run this site, ask the service's operator to add " + site + " to BQA_ALLOWED_ORIGINS.";
        if (window.console) window.console.warn("bqa widget: " + message);
        return new WidgetError(message, "origin_not_allowed");
      }
    } catch (e) { /* not even that answered: the network or the service */ }
    return new WidgetError("Could not reach the service. Check your connection and try again.", "network");
  }

  async function refusal(response) {
    var code = "http_" + response.status;
    var message = "The service could not answer (" + response.status + ").";
    try {
      var data = await response.json();
      if (data && data.error) {
        code = data.error.code || code;
        message = data.error.message || message;
      }
    } catch (e) { /* not JSON: keep the generic message */ }
    var retryAfter = parseInt(response.headers.get("Retry-After") || "", 10);
    if (code === "rate_limited") {
      message = "Too many questions at once." + (retryAfter > 0 ? " Try again in " + retryAfter + " s." : "");
    }
    return new WidgetError(message, code, retryAfter);
  }

  // Server-sent events from a fetch body: blocks separated by a blank line, "event:" and "data:" fields.
  function dispatch(block, onEvent) {
    var name = "message";
    var data = [];
    block.split(/\r?\n/).forEach(function (line) {
      if (!line || line.charAt(0) === ":") return;
      var colon = line.indexOf(":");
      var field = colon < 0 ? line : line.slice(0, colon);
      var value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") name = value;
      else if (field === "data") data.push(value);
    });
    if (data.length) onEvent(name, JSON.parse(data.join("\n")));
  }

  async function readEvents(response, onEvent) {
    var buffer = "";
    function drain() {
      var match;
      while ((match = /\r?\n\r?\n/.exec(buffer))) {
        var block = buffer.slice(0, match.index);
        buffer = buffer.slice(match.index + match[0].length);
        dispatch(block, onEvent);
      }
    }
    if (!response.body || !response.body.getReader) { // no streaming: read it whole
      buffer = await response.text();
      drain();
      return;
    }
    var reader = response.body.getReader();
    var decoder = new TextDecoder();
    try {
      for (;;) {
        var chunk = await reader.read();
        if (chunk.done) break;
        buffer += decoder.decode(chunk.value, { stream: true });
        drain();
      }
      buffer += decoder.decode() + "\n\n";
      drain();
    } finally {
      reader.releaseLock();
    }
  }

  // Ask one question; `onText` sees the answer as it grows. Resolves to the finished answer message; aborting
  // `signal` (Stop) rejects with the code "stopped".
  async function streamAnswer(question, onText, signal) {
    var body = { question: question };
    if (state.conversationId) body.conversation_id = state.conversationId;
    if (state.period) {
      var span = state.period.split("..");
      body.filters = { period_from: span[0], period_to: span[1] || span[0] };
    }
    var response;
    try {
      response = await post("/api/v1/ask/stream", body, signal);
    } catch (e) {
      if (signal.aborted) throw new WidgetError("Stopped.", "stopped");
      throw await unreachable();
    }
    if (!response.ok) throw await refusal(response);
    var answer = { role: "bot", text: "", answerable: true, citations: [], turn: null, rating: null };
    var conversationId = null;
    var finished = false;
    var read = readEvents(response, function (name, data) {
      if (name === "meta") {
        conversationId = data.conversation_id;
        state.conversationId = conversationId; // the turn is stored: a stopped answer's follow-up still has it
      } else if (name === "delta") {
        answer.text += data.text;
        onText(answer.text);
      } else if (name === "citations") {
        if (typeof data.answer === "string") answer.text = data.answer; // the whole answer, as stored
        answer.citations = Array.isArray(data.citations) ? data.citations : [];
        answer.answerable = data.answerable !== false;
        answer.turn = typeof data.turn === "number" ? data.turn : null;
      } else if (name === "error") {
        throw new WidgetError(data.message || "Something went wrong on our side.", data.code);
      } else if (name === "done") {
        finished = true;
      }
    });
    try {
      await read;
    } catch (e) {
      if (signal.aborted) throw new WidgetError("Stopped.", "stopped");
      throw e;
    }
    if (!finished) throw new WidgetError("The answer was cut off. Please ask again.", "incomplete");
    return answer;
  }

  // --- building the widget -----------------------------------------------------------------------------------

  var host = document.createElement("bqa-widget");
  var shadow = host.attachShadow({ mode: "open" });
  var stylesheet = el("link");
  stylesheet.rel = "stylesheet";
  stylesheet.href = new URL("widget.css?v=" + encodeURIComponent(VERSION), scriptUrl).href;
  var root = el("div", "root");
  root.hidden = true; // until the stylesheet is in: no flash of an unstyled panel
  var systemDark = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;
  function applyTheme() {
    var dark = THEME === "dark" || (THEME !== "light" && !!(systemDark && systemDark.matches));
    root.setAttribute("data-theme", dark ? "dark" : "light");
  }
  applyTheme();
  if (systemDark && systemDark.addEventListener) systemDark.addEventListener("change", applyTheme);
  stylesheet.addEventListener("load", function () { root.hidden = false; });
  stylesheet.addEventListener("error", function () { root.hidden = false; });

  var panel = el("section", "panel");
  panel.id = "bqa-panel";
  panel.hidden = true;
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-modal", "false");
  panel.setAttribute("aria-labelledby", "bqa-title");

  var head = el("div", "head");
  var heading = el("h2", null, TITLE);
  heading.id = "bqa-title";
  var restartButton = iconButton("restart", "New conversation", "restart");
  var closeButton = iconButton("close", "Close", "close");
  head.append(heading, restartButton, closeButton);

  var scroller = el("div", "scroll");
  var intro = el("div", "intro");
  intro.append(
    el("p", "lead", "Ask about anything in the bulletins."),
    el("p", null, "Every answer quotes the bulletin it comes from. Tap a source to check it.")
  );
  var suggestionList = el("ul", "suggestions");
  suggestionList.setAttribute("aria-label", "Suggested questions");
  intro.appendChild(suggestionList);
  var log = el("div", "log");
  log.setAttribute("role", "log");
  log.setAttribute("aria-label", "Conversation");
  log.setAttribute("aria-live", "off"); // answers stream in token by token; `announcer` speaks them once
  scroller.append(intro, log);

  var announcer = el("div", "sr-only announcer");
  announcer.setAttribute("role", "status");
  announcer.setAttribute("aria-live", "polite");
  announcer.setAttribute("aria-atomic", "true");

  var form = el("form", "composer");
  var label = el("label", "sr-only", "Your question");
  label.htmlFor = "bqa-input";
  var input = el("input");
  input.id = "bqa-input";
  input.type = "text";
  input.autocomplete = "off";
  input.maxLength = MAX_QUESTION;
  input.placeholder = "Ask a question…";
  input.enterKeyHint = "send";
  var sendButton = iconButton("send", "Send", "send");
  sendButton.type = "submit";
  var stopButton = iconButton("stop", "Stop", "stop");
  stopButton.hidden = true;
  form.append(label, input, sendButton, stopButton);
  // Shown only when the bulletins cover more than one period: answers from those of the period chosen.
  var periodRow = el("div", "periods");
  periodRow.hidden = true;
  var periodLabel = el("label", null, "Bulletins of");
  periodLabel.htmlFor = "bqa-period";
  var periodSelect = el("select");
  periodSelect.id = "bqa-period";
  periodRow.append(periodLabel, periodSelect);
  var fineprint = el("p", "fineprint", "Answers are quoted from the bulletins; check the sources.");

  panel.append(head, scroller, announcer, periodRow, form, fineprint);

  var launcher = el("button", "launcher");
  launcher.type = "button";
  launcher.setAttribute("aria-haspopup", "dialog");
  launcher.setAttribute("aria-expanded", "false");
  launcher.setAttribute("aria-controls", "bqa-panel");
  launcher.append(icon("chat"), el("span", "label", TITLE));

  // The panel comes first, so Tab from its last control reaches the launcher (which closes it) next.
  root.append(panel, launcher);
  shadow.append(stylesheet, root);

  // --- rendering messages --------------------------------------------------------------------------------------

  function scrollToEnd() {
    scroller.scrollTop = scroller.scrollHeight;
  }

  function userView(message) {
    var view = el("div", "msg user");
    view.appendChild(el("p", "bubble", message.text));
    return view;
  }

  function chipLabel(citation) {
    return citation.bulletin_title + (citation.period ? ", " + citation.period : "");
  }

  // The source view's URL, telling it this page so that it can link back here (origin and path only: a query
  // string may hold what a site would not share).
  function returnableHref(url) {
    var href = safeHref(url);
    if (!href || !/^https?:$/.test(window.location.protocol)) return href;
    var withReturn = new URL(href);
    withReturn.searchParams.set("from", window.location.origin + window.location.pathname);
    return withReturn.href;
  }

  // The popover under its chip, or above it when there is more room there, inside the panel and the viewport.
  var openPopover = null; // {popover, chip}

  function placePopover() {
    if (!openPopover) return;
    var popover = openPopover.popover;
    var chip = openPopover.chip.getBoundingClientRect();
    var view = scroller.getBoundingClientRect();
    if (chip.bottom < view.top || chip.top > view.bottom) { // scrolled out of sight: close it
      closePopover();
      return;
    }
    var panelBox = panel.getBoundingClientRect();
    var left = Math.max(panelBox.left, 0) + POPOVER_MARGIN;
    var right = Math.min(panelBox.right, document.documentElement.clientWidth) - POPOVER_MARGIN;
    var top = Math.max(panelBox.top, 0) + POPOVER_MARGIN;
    var bottom = Math.min(panelBox.bottom, window.innerHeight) - POPOVER_MARGIN;
    popover.style.maxHeight = "";
    popover.style.width = Math.min(340, right - left) + "px";
    var height = popover.offsetHeight;
    var below = bottom - chip.bottom - POPOVER_GAP;
    var above = chip.top - POPOVER_GAP - top;
    var flip = height > below && above > below;
    var room = Math.max(flip ? above : below, 0);
    if (height > room) {
      popover.style.maxHeight = room + "px";
      height = room;
    }
    popover.style.top = (flip ? chip.top - POPOVER_GAP - height : chip.bottom + POPOVER_GAP) + "px";
    popover.style.left = Math.max(left, Math.min(chip.left, right - popover.offsetWidth)) + "px";
    popover.setAttribute("data-side", flip ? "above" : "below");
  }

  function closePopover() {
    if (!openPopover) return;
    openPopover.chip.setAttribute("aria-expanded", "false");
    openPopover.popover.hidden = true;
    openPopover = null;
  }

  scroller.addEventListener("scroll", placePopover, { passive: true });
  window.addEventListener("resize", placePopover);
  shadow.addEventListener("pointerdown", function (event) { // a press anywhere else in the widget closes it
    var path = event.composedPath();
    if (openPopover && path.indexOf(openPopover.popover) < 0 && path.indexOf(openPopover.chip) < 0) closePopover();
  });

  function popoverBody(citation) {
    var body = document.createDocumentFragment();
    body.appendChild(el("blockquote", "quote", citation.quote));
    var where = el("p", "where");
    where.appendChild(el("b", null, citation.bulletin_title));
    var details = [citation.period, citation.section].filter(Boolean).join(" · ");
    if (details) where.appendChild(document.createTextNode(" · " + details));
    body.appendChild(where);
    var href = returnableHref(citation.url);
    if (href) {
      var link = el("a", "source-link", "Read it in the bulletin");
      link.href = href;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      link.appendChild(icon("external"));
      body.appendChild(link);
    }
    return body;
  }

  function sourcesView(message, view) {
    var sources = el("div", "sources");
    sources.appendChild(el("span", "sources-label", "Sources"));
    var popover = el("div", "popover");
    popover.id = nextId("source");
    popover.hidden = true;
    popover.setAttribute("role", "group");
    message.citations.forEach(function (citation) {
      var chip = el("button", "chip");
      chip.type = "button";
      chip.setAttribute("aria-expanded", "false");
      chip.setAttribute("aria-controls", popover.id);
      chip.append(el("span", "n", "[" + citation.n + "]"), el("span", "src", chipLabel(citation)));
      chip.addEventListener("click", function () {
        var opening = chip.getAttribute("aria-expanded") !== "true";
        closePopover();
        if (!opening) return;
        popover.replaceChildren(popoverBody(citation));
        popover.setAttribute("aria-label", "Source [" + citation.n + "]");
        chip.setAttribute("aria-expanded", "true");
        popover.hidden = false;
        openPopover = { popover: popover, chip: chip };
        placePopover();
      });
      sources.appendChild(chip);
    });
    view.append(sources, popover);
  }

  // The answer as text to paste elsewhere: itself, then its numbered sources with their links.
  function plainText(message) {
    var lines = [message.text.trim()];
    var citations = message.citations || [];
    if (citations.length) lines.push("", "Sources:");
    citations.forEach(function (citation) {
      var where = [chipLabel(citation), citation.section].filter(Boolean).join(" · ");
      lines.push("[" + citation.n + "] " + where + (safeHref(citation.url) ? ": " + safeHref(citation.url) : ""));
    });
    return lines.join("\n");
  }

  async function copyToClipboard(text) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch (e) { /* no Clipboard API here (an http page, a denied permission): the old way */ }
    var area = el("textarea", "sr-only");
    area.value = text;
    shadow.appendChild(area);
    area.select();
    var copied = false;
    try {
      copied = document.execCommand("copy");
    } catch (e) { /* nothing more to try */ }
    area.remove();
    return copied;
  }

  // Under an answer: copy it, and 👍 / 👎 when it is a stored turn.
  function actionsView(message, view) {
    var row = el("div", "actions");
    var status = el("span", "thanks");
    status.setAttribute("role", "status");
    var copy = iconButton("copy", "Copy answer and sources", "copy");
    copy.addEventListener("click", async function () {
      var copied = await copyToClipboard(plainText(message));
      status.textContent = copied ? "Copied" : "Could not copy: select the text instead.";
    });
    if (!message.turn || !message.conversationId) {
      row.append(copy, status);
      view.appendChild(row);
      return;
    }
    var up = iconButton("thumb", "Helpful", "rate-up");
    var down = iconButton("thumb", "Not helpful", "rate-down", true);
    function show() {
      [["up", up], ["down", down]].forEach(function (pair) {
        pair[1].setAttribute("aria-pressed", String(message.rating === pair[0]));
        pair[1].disabled = !!message.rating;
      });
      status.textContent = message.rating ? "Thanks for the feedback" : "";
    }
    async function rate(rating) {
      up.disabled = down.disabled = true;
      try {
        var response = await post("/api/v1/feedback", {
          conversation_id: message.conversationId, turn: message.turn, rating: rating, source: "widget"
        });
        if (!response.ok) throw await refusal(response);
        message.rating = rating;
        save();
      } catch (e) {
        status.textContent = "Could not send the feedback.";
        up.disabled = down.disabled = false;
        return;
      }
      show();
    }
    up.addEventListener("click", function () { rate("up"); });
    down.addEventListener("click", function () { rate("down"); });
    row.append(up, down, copy, status);
    show();
    view.appendChild(row);
  }

  // Fill a bot message view with a finished answer (or error): used live and when restoring after a reload.
  function fillBot(view, message) {
    view.replaceChildren();
    view.className = "msg bot" + (message.error ? " error" : message.answerable ? "" : " unanswerable");
    view.setAttribute("data-answerable", String(!message.error && message.answerable));
    if (!message.error && !message.answerable) {
      var verdict = el("p", "verdict");
      verdict.append(icon("info"), el("span", null, "Not in the bulletins"));
      view.appendChild(verdict);
    }
    view.appendChild(el("p", "bubble", message.text));
    if (message.error) return;
    if (message.citations && message.citations.length) sourcesView(message, view);
    actionsView(message, view);
  }

  function messageView(message) {
    if (message.role === "user") return userView(message);
    if (message.role === "note") return el("p", "msg note", message.text);
    var view = el("div", "msg bot");
    fillBot(view, message);
    return view;
  }

  function typingView() {
    var typing = el("span", "typing");
    typing.setAttribute("aria-hidden", "true");
    typing.append(el("span"), el("span"), el("span"));
    return typing;
  }

  function pendingView() {
    var view = el("div", "msg bot pending");
    var bubble = el("p", "bubble");
    bubble.appendChild(typingView());
    view.appendChild(bubble);
    return { view: view, bubble: bubble };
  }

  function announce(message) {
    if (message.error) announcer.textContent = "Error: " + message.text;
    else if (!message.answerable) announcer.textContent = "Not in the bulletins. " + message.text;
    else {
      var count = (message.citations || []).length;
      announcer.textContent = "Answer: " + message.text +
        (count ? " " + count + (count === 1 ? " source." : " sources.") : "");
    }
  }

  function renderAll() {
    log.replaceChildren.apply(log, state.messages.map(messageView));
    intro.hidden = state.messages.length > 0;
  }

  // --- suggestions ---------------------------------------------------------------------------------------------

  // A list the service offers (suggestions, periods): `key` of its JSON, [] when it answers with an error status.
  // A network failure or an unreadable body throws; each caller decides what that means.
  async function fetchList(path, key) {
    var response = await fetch(API + path, { mode: "cors", credentials: "omit" });
    return response.ok ? (await response.json())[key] || [] : [];
  }

  var suggestionsLoaded = false;

  async function loadSuggestions() {
    if (suggestionsLoaded) return;
    suggestionsLoaded = true;
    var questions = [];
    try {
      questions = await fetchList("/api/v1/suggestions", "suggestions");
    } catch (e) { // no suggestions: the box still works, unless this site may not use the service at all
      var why = await unreachable();
      if (why.code === "origin_not_allowed") intro.appendChild(el("p", "notice", why.message));
    }
    suggestionList.replaceChildren.apply(suggestionList, questions.slice(0, 6).map(function (question) {
      var item = el("li");
      var button = el("button", "suggestion", question);
      button.type = "button";
      button.addEventListener("click", function () { ask(question); });
      item.appendChild(button);
      return item;
    }));
    suggestionList.hidden = questions.length === 0;
  }

  // --- periods -------------------------------------------------------------------------------------------------

  var periodsLoaded = false;

  async function loadPeriods() {
    if (periodsLoaded) return;
    periodsLoaded = true;
    var periods = [];
    try {
      periods = await fetchList("/api/v1/periods", "periods");
    } catch (e) { /* no filter: every period is searched, as without one */ }
    if (periods.length < 2) {
      state.period = null;
      return;
    }
    var options = [el("option", null, "All periods")];
    options[0].value = "";
    periods.forEach(function (period) {
      var option = el("option", null, period.period + (period.bulletins > 1 ? " (" + period.bulletins + ")" : ""));
      option.value = period.from === period.to ? period.from : period.from + ".." + period.to;
      options.push(option);
    });
    periodSelect.replaceChildren.apply(periodSelect, options);
    periodSelect.value = state.period || "";
    if (periodSelect.value !== (state.period || "")) state.period = null; // that period is gone from the index
    periodRow.hidden = false;
  }

  periodSelect.addEventListener("change", function () {
    state.period = periodSelect.value || null;
    save();
  });

  // --- asking --------------------------------------------------------------------------------------------------

  var busy = false;
  var controller = null; // aborts the answer being streamed

  function setBusy(value) {
    busy = value;
    var focusMoves = shadow.activeElement === (value ? sendButton : stopButton);
    sendButton.hidden = value;
    stopButton.hidden = !value;
    if (focusMoves) (value ? stopButton : input).focus();
    log.setAttribute("aria-busy", String(value));
  }

  stopButton.addEventListener("click", function () {
    if (controller) controller.abort();
  });

  function append(message) {
    state.messages.push(message);
    save();
    intro.hidden = true;
  }

  async function ask(question) {
    question = question.trim();
    if (!question || busy) return;
    setBusy(true);
    input.value = "";
    var user = { role: "user", text: question };
    append(user);
    log.appendChild(userView(user));
    var pending = pendingView();
    log.appendChild(pending.view);
    announcer.textContent = "Searching the bulletins…";
    scrollToEnd();
    var showText = function (text) { // the answer so far, and the typing indicator while more may come
      pending.bubble.replaceChildren(document.createTextNode(text), typingView());
      scrollToEnd();
    };
    controller = new AbortController();
    var message;
    try {
      try {
        message = await streamAnswer(question, showText, controller.signal);
      } catch (e) {
        if (e.code !== "conversation_not_found") throw e;
        state.conversationId = null; // it expired: ask again in a new one, and say so
        var note = { role: "note", text: "The earlier conversation had expired; this starts a new one." };
        append(note);
        log.insertBefore(messageView(note), pending.view);
        message = await streamAnswer(question, showText, controller.signal);
      }
      message.conversationId = state.conversationId;
    } catch (e) {
      if (e.code === "stopped") {
        message = { role: "note", text: "Stopped. Ask again whenever you like." };
      } else {
        message = { role: "bot", error: true, text: e instanceof WidgetError ? e.message : "Something went wrong." };
      }
    }
    controller = null;
    append(message);
    if (message.role === "note") {
      log.replaceChild(messageView(message), pending.view);
      announcer.textContent = message.text;
    } else {
      fillBot(pending.view, message);
      announce(message);
    }
    scrollToEnd();
    setBusy(false);
  }

  // --- opening, closing, keyboard ------------------------------------------------------------------------------

  function setOpen(open, moveFocus) {
    if (!open) closePopover();
    panel.hidden = !open;
    root.classList.toggle("open", open);
    launcher.setAttribute("aria-expanded", String(open));
    launcher.setAttribute("aria-label", open ? "Close " + TITLE : TITLE);
    state.open = open;
    save();
    if (open) {
      loadPeriods();
      if (!state.messages.length) loadSuggestions();
      scrollToEnd();
      if (moveFocus) input.focus();
    } else if (moveFocus) {
      launcher.focus();
    }
  }

  launcher.addEventListener("click", function () { setOpen(panel.hidden, true); });
  closeButton.addEventListener("click", function () { setOpen(false, true); });

  restartButton.addEventListener("click", function () {
    if (busy) return;
    closePopover();
    var period = state.period; // a new conversation keeps the period chosen
    state = emptyState(true);
    state.period = period;
    save();
    renderAll();
    loadSuggestions();
    announcer.textContent = "New conversation.";
    input.focus();
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    ask(input.value);
  });

  root.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || panel.hidden) return;
    event.stopPropagation();
    // Escape first closes a source popover the focus is in (back to its chip), then the panel.
    var focused = shadow.activeElement;
    var message = focused && focused.closest ? focused.closest(".msg") : null;
    var open = message && message.querySelector('.chip[aria-expanded="true"]');
    if (open) {
      open.click();
      open.focus();
      return;
    }
    setOpen(false, true);
  });

  // --- start ---------------------------------------------------------------------------------------------------

  renderAll();
  if (state.open) setOpen(true, false); // a reload keeps the panel as it was, without stealing the focus

  function mount() {
    document.body.appendChild(host);
  }
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
