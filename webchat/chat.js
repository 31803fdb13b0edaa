// Hearth & Home web chat: talks to Rasa's socketio channel on the same origin.
//
// Every piece of text, the customer's or the bot's, is put on the page with textContent or
// as a text node, never as HTML. Links are made from http(s) URLs with createElement, so a
// message can never run script. The server's Content-Security-Policy backs this up.
//
// The bot writes a small, safe subset of Markdown (personalization/chat_markdown.py):
// paragraphs, line breaks, "- " and "1. " list items, **bold** and [title](https://…) links.
// renderMarkdown builds those as elements too; whatever else a text holds stays text. The
// customer's own messages are shown exactly as typed.
//
// Who the customer is, the server decides from a customer token (a JWT signed by the shop's
// backend), sent as metadata.customer_token with every message. The signed-in shop page
// renders it into data-customer-token. For the local demo, ?customer=cust-0001 asks the
// server's demo-token route for one; that only answers in demo mode, and otherwise the
// visitor is anonymous. The page never sends a customer id: a claimed id proves nothing.
(function () {
  "use strict";

  var root = document.getElementById("chat");
  var transcript = document.getElementById("transcript");
  var form = document.getElementById("composer");
  var input = document.getElementById("message");
  var typing = document.getElementById("typing");
  var statusLine = document.getElementById("status");
  var newChat = document.getElementById("new-chat");

  var MAX_ENTRIES = 200;
  var TYPING_TIMEOUT_MS = 20000;
  var TOKEN_TIMEOUT_MS = 10000;
  var GREETING_PAYLOAD = "/greet";
  var URL_PATTERN = /https?:\/\/[^\s<>"']+/g;
  var LIST_ITEM = /^\s*(?:([-*•])|(\d{1,3})[.)])\s+(.*)$/;
  var INLINE = /\*\*(?=\S)([\s\S]+?)\*\*|\[((?:\\.|[^\]\\])+)\]\(([^()\s]+)\)/g;
  var WEB_LINK = /^https?:\/\/[^\s<>"']+$/i;
  var CUSTOMER_ID = /^[A-Za-z0-9_-]{1,64}$/;

  var params = new URLSearchParams(window.location.search);
  var pageToken = (root.dataset.customerToken || "").trim() || null;
  var demoCustomer = (params.get("customer") || "").trim() || null;
  var storeKey =
    "hearth-chat:" + (pageToken ? tokenStoreName(pageToken) : demoCustomer || "visitor");
  // Every message waits for this, so even the greeting goes out with the token, if any.
  var customerToken = pageToken ? Promise.resolve(pageToken) : demoToken(demoCustomer);

  // Keeps each customer's conversation apart in sessionStorage, and the same across the fresh
  // tokens a shop page gets on each load: the token's subject, read without checking it. This
  // is only a storage name; the server checks the token itself. A token that cannot be read
  // gets a short hash, never the token itself.
  function tokenStoreName(token) {
    try {
      var part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      var subject = JSON.parse(window.atob(part + "===".slice((part.length + 3) % 4))).sub;
      if (typeof subject === "string" && CUSTOMER_ID.test(subject)) {
        return subject;
      }
    } catch (error) {
      // Not a readable JWT: the hash below names it.
    }
    var hash = 0x811c9dc5; // FNV-1a, 32 bits
    for (var i = 0; i < token.length; i++) {
      hash ^= token.charCodeAt(i);
      hash = Math.imul(hash, 0x01000193) >>> 0;
    }
    return "token-" + hash.toString(16);
  }

  // The local demo's token for ?customer=…: null (anonymous) when demo mode is off (404),
  // the id is refused (400), the request fails, or it takes too long.
  function demoToken(customer) {
    if (!customer || !CUSTOMER_ID.test(customer) || !window.fetch) {
      return Promise.resolve(null);
    }
    var request = window
      .fetch("demo-token?customer=" + encodeURIComponent(customer), {
        credentials: "same-origin",
        cache: "no-store",
        headers: { Accept: "application/json" },
      })
      .then(function (reply) {
        return reply.ok ? reply.json() : null;
      })
      .then(function (body) {
        return body && typeof body.token === "string" && body.token ? body.token : null;
      })
      .catch(function () {
        return null;
      });
    var timeout = new Promise(function (resolve) {
      window.setTimeout(function () {
        resolve(null);
      }, TOKEN_TIMEOUT_MS);
    });
    return Promise.race([request, timeout]);
  }

  var state = load();
  var typingTimer = null;

  function load() {
    try {
      var saved = JSON.parse(window.sessionStorage.getItem(storeKey) || "null");
      if (saved && Array.isArray(saved.entries)) {
        return saved;
      }
    } catch (error) {
      // A damaged or unavailable store starts a new conversation.
    }
    return { sessionId: null, entries: [] };
  }

  function save() {
    state.entries = state.entries.slice(-MAX_ENTRIES);
    try {
      window.sessionStorage.setItem(storeKey, JSON.stringify(state));
    } catch (error) {
      // Private browsing or a full store: the chat still works, it just won't survive a reload.
    }
  }

  function setStatus(text, kind) {
    statusLine.textContent = text;
    statusLine.dataset.kind = kind;
  }

  // Text with its http(s) links made clickable, built from text nodes and <a> elements only.
  function appendText(parent, text) {
    var value = String(text);
    var last = 0;
    value.replace(URL_PATTERN, function (match, offset) {
      var url = match.replace(/[.,;:!?)\]]+$/, "");
      parent.appendChild(document.createTextNode(value.slice(last, offset)));
      parent.appendChild(linkTo(url, url));
      last = offset + url.length;
      return match;
    });
    parent.appendChild(document.createTextNode(value.slice(last)));
  }

  function linkTo(url, title) {
    var link = document.createElement("a");
    link.href = url;
    link.textContent = title;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    return link;
  }

  // One line of the bot's Markdown: **bold** and [title](http(s) link) as elements, the rest
  // as text with its bare http(s) links made clickable. A link to any other kind of address
  // (javascript:, data:, a relative path) is shown as its title, as plain text.
  function appendInline(parent, text) {
    var last = 0;
    var match;
    INLINE.lastIndex = 0;
    while ((match = INLINE.exec(text)) !== null) {
      appendText(parent, text.slice(last, match.index));
      if (match[1] !== undefined) {
        var strong = document.createElement("strong");
        appendText(strong, match[1]);
        parent.appendChild(strong);
      } else {
        var title = match[2].replace(/\\(.)/g, "$1");
        var url = match[3];
        var link = WEB_LINK.test(url) ? linkTo(url, title) : null;
        if (link && (link.protocol === "http:" || link.protocol === "https:")) {
          parent.appendChild(link);
        } else {
          parent.appendChild(document.createTextNode(title));
        }
      }
      last = INLINE.lastIndex;
    }
    appendText(parent, text.slice(last));
  }

  // The bot's text as paragraphs (blank lines), line breaks (kept as text: the bubble keeps
  // them, and copied text reads the same) and lists (runs of "- " or "1. " lines).
  function renderMarkdown(parent, text) {
    String(text).replace(/\r\n?/g, "\n").split(/\n[ \t]*\n/).forEach(function (block) {
      var paragraph = null;
      var list = null;
      block.split("\n").forEach(function (line) {
        var item = LIST_ITEM.exec(line);
        if (item) {
          var tag = item[1] ? "ul" : "ol";
          if (!list || list.tagName.toLowerCase() !== tag) {
            list = document.createElement(tag);
            if (tag === "ol" && Number(item[2]) !== 1) {
              list.start = Number(item[2]);
            }
            parent.appendChild(list);
          }
          var entry = document.createElement("li");
          appendInline(entry, item[3]);
          list.appendChild(entry);
          paragraph = null;
          return;
        }
        if (!line.trim()) return;
        list = null;
        if (paragraph) {
          paragraph.appendChild(document.createTextNode("\n"));
        } else {
          paragraph = document.createElement("p");
          parent.appendChild(paragraph);
        }
        appendInline(paragraph, line);
      });
    });
  }

  var SVG_NS = "http://www.w3.org/2000/svg";
  var THUMB_PATH =
    "M1 21h4V9H1v12zm22-11c0-1.1-.9-2-2-2h-6.31l.95-4.57.03-.32c0-.41-.17-.79-.44-1.06" +
    "L14.17 1 7.59 7.59C7.22 7.95 7 8.45 7 9v10c0 1.1.9 2 2 2h9c.83 0 1.54-.5 1.84-1.22" +
    "l3.02-7.05c.09-.23.14-.47.14-.73v-2z";

  // A thumb drawn as an icon, so it looks the same whatever emoji font the device has.
  function thumbIcon(direction) {
    var svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("class", "thumb-icon " + direction);
    var path = document.createElementNS(SVG_NS, "path");
    path.setAttribute("d", THUMB_PATH);
    svg.appendChild(path);
    return svg;
  }

  function thumbLabel(title) {
    if (title.indexOf("👍") === 0) return "thumbs-up";
    if (title.indexOf("👎") === 0) return "thumbs-down";
    return null;
  }

  function renderReplies(entry, live) {
    var group = document.createElement("div");
    group.className = "replies";
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", "Suggested replies");
    entry.replies.forEach(function (reply) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "reply";
      var thumb = thumbLabel(reply.title);
      if (thumb) {
        button.classList.add("thumb", thumb);
        button.setAttribute(
          "aria-label", thumb === "thumbs-up" ? "Yes, this helped" : "No, this did not help");
      }
      if (thumb) {
        button.appendChild(thumbIcon(thumb));
        var label = document.createElement("span");
        label.textContent = reply.title.replace(/^(👍|👎)\s*/, "");
        button.appendChild(label);
      } else {
        button.textContent = reply.title;
      }
      button.disabled = !live;
      button.addEventListener("click", function () {
        send(reply.title, reply.payload);
      });
      group.appendChild(button);
    });
    return group;
  }

  function renderCards(entry, live) {
    var list = document.createElement("ul");
    list.className = "cards";
    list.setAttribute("aria-label", "Recommended products");
    entry.cards.forEach(function (card) {
      var item = document.createElement("li");
      item.className = "card";
      var name = document.createElement("h3");
      name.textContent = card.name;
      var price = document.createElement("p");
      price.className = "price";
      price.textContent = card.price;
      item.appendChild(name);
      item.appendChild(price);
      if (card.why) {
        var why = document.createElement("p");
        why.className = "why";
        var label = document.createElement("span");
        label.className = "why-label";
        label.textContent = "Why this: ";
        why.appendChild(label);
        why.appendChild(document.createTextNode(card.why));
        item.appendChild(why);
      }
      var more = document.createElement("button");
      more.type = "button";
      more.className = "reply card-action";
      more.textContent = "Tell me more";
      more.setAttribute("aria-label", "Tell me more about " + card.name);
      more.disabled = !live;
      more.addEventListener("click", function () {
        send("Tell me more about " + card.name, card.payload);
      });
      item.appendChild(more);
      list.appendChild(item);
    });
    return list;
  }

  function render(entry) {
    var live = !entry.answered;
    var row = document.createElement("li");
    row.className = "message from-" + entry.from;
    if (entry.text) {
      var bubble = document.createElement("div");
      bubble.className = "bubble";
      if (entry.from === "bot") {
        renderMarkdown(bubble, entry.text);
      } else {
        appendText(bubble, entry.text);
      }
      row.appendChild(bubble);
    }
    if (entry.replies && entry.replies.length) {
      row.appendChild(renderReplies(entry, live));
    }
    if (entry.cards && entry.cards.length) {
      row.appendChild(renderCards(entry, true)); // any product can be asked about later
    }
    return row;
  }

  function redraw() {
    transcript.textContent = "";
    state.entries.forEach(function (entry) {
      transcript.appendChild(render(entry));
    });
    transcript.scrollTop = transcript.scrollHeight;
  }

  function add(entry) {
    if (entry.from === "user") {
      state.entries.forEach(function (earlier) {
        earlier.answered = true; // answered buttons stay visible but cannot be clicked again
      });
    }
    state.entries.push(entry);
    save();
    redraw();
  }

  function showTyping(on) {
    typing.hidden = !on;
    window.clearTimeout(typingTimer);
    if (on) {
      typingTimer = window.setTimeout(function () {
        typing.hidden = true;
      }, TYPING_TIMEOUT_MS);
    }
  }

  var socket = window.io({ path: "/socket.io", transports: ["websocket", "polling"] });

  // Messages leave in the order they were written: each waits on the same settled promise.
  function emitMessage(payload) {
    var sessionId = state.sessionId;
    showTyping(true);
    customerToken.then(function (token) {
      socket.emit("user_uttered", {
        message: payload,
        session_id: sessionId,
        metadata: token ? { customer_token: token } : {},
      });
    });
  }

  function send(shown, payload) {
    var text = String(shown || "").trim();
    if (!text || !state.sessionId) return;
    add({ from: "user", text: text });
    emitMessage(payload || text);
    input.focus();
  }

  socket.on("connect", function () {
    setStatus("Online", "online");
    socket.emit("session_request", { session_id: state.sessionId });
  });

  socket.on("session_confirm", function (sessionId) {
    var id = typeof sessionId === "string" ? sessionId : sessionId && sessionId.session_id;
    if (id !== state.sessionId) {
      state = { sessionId: id, entries: [] };
      save();
      redraw();
    }
    if (!state.entries.length && !state.greeted) {
      state.greeted = true;
      save();
      emitMessage(GREETING_PAYLOAD);
    }
  });

  socket.on("bot_uttered", function (message) {
    showTyping(false);
    if (!message || typeof message !== "object") return;
    if (Array.isArray(message.cards)) {
      add({ from: "bot", cards: message.cards.map(function (card) {
        return {
          name: String(card.name || ""),
          price: String(card.price || ""),
          why: String(card.why || ""),
          payload: String(card.payload || ""),
        };
      }) });
      return;
    }
    var replies = (message.quick_replies || message.buttons || []).map(function (reply) {
      return { title: String(reply.title || ""), payload: String(reply.payload || "") };
    });
    if (message.text || replies.length) {
      add({ from: "bot", text: message.text ? String(message.text) : "", replies: replies });
    }
  });

  // The server refused what we sent (a bad session id, an odd message): say so, and ask for
  // a fresh session when the session was the problem.
  socket.on("input_error", function (error) {
    showTyping(false);
    var reason = error && typeof error === "object" ? String(error.reason || "") : "";
    if (reason.indexOf("session_id") !== -1) {
      socket.emit("session_request", { session_id: null });
      return;
    }
    add({ from: "bot", text: "Sorry, I couldn't read that message. Please try again." });
  });

  socket.on("disconnect", function () {
    setStatus("Reconnecting…", "offline");
  });

  socket.on("connect_error", function () {
    setStatus("Can't reach the assistant. Retrying…", "offline");
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    send(input.value);
    input.value = "";
  });

  newChat.addEventListener("click", function () {
    window.sessionStorage.removeItem(storeKey);
    state = { sessionId: null, entries: [] };
    redraw();
    socket.emit("session_request", { session_id: null });
    input.focus();
  });

  redraw();
})();
