/*
 * The agent console (docs/handoff.md): lists open hand-offs live, opens one, takes it, sends
 * the agent's words (spoken by the avatar, or as plain chat) and gives it back. Every text a
 * customer wrote is shown with textContent, never as HTML.
 */
(() => {
  "use strict";

  const me = document.currentScript.dataset.agent;
  const $ = (selector) => document.querySelector(selector);
  const list = $(".handoffs");
  const detail = $(".detail");
  const lines = $(".lines");
  const error = $(".error");
  const reply = $(".reply");
  const takeButton = $(".take");
  const giveBackButton = $(".give-back");
  const REASONS = {
    no_answer: "no answer",
    llm_failed: "LLM failed",
    asked_for_person: "asked for a person",
    repeated: "asked twice",
    operator_rule: "operator rule",
  };
  const REFRESH_S = 10;
  let socket = null;
  let current = null; // the hand-off open on the right

  const send = (message) => socket && socket.readyState === WebSocket.OPEN && socket.send(JSON.stringify(message));
  const describe = (h) =>
    `${h.avatar ? h.avatar.name : "?"} · ${REASONS[h.reason] || h.reason} · ${h.language} · ` +
    `${new Date(h.created_at).toLocaleTimeString()}`;

  function connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    socket = new WebSocket(`${scheme}//${location.host}/ws/handoff/console/`);
    socket.onmessage = (event) => receive(JSON.parse(event.data));
    socket.onclose = (event) => {
      if (event.code === 4003) {
        error.textContent = "You are not allowed to use the console.";
        return;
      }
      setTimeout(connect, 2000);
    };
  }

  function receive(message) {
    if (message.type === "list") return showList(message.handoffs);
    if (message.type === "handoff") return open(message.handoff, message.transcript);
    if (message.type === "status") return showStatus(message.handoff);
    if (message.type === "line") return addLine(message.role, message.text);
    if (message.type === "error") error.textContent = message.message;
  }

  function showList(handoffs) {
    list.replaceChildren();
    $(".empty").hidden = handoffs.length > 0;
    for (const h of handoffs) {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.id = h.id;
      button.setAttribute("aria-current", String(current !== null && current.id === h.id));
      const status = document.createElement("span");
      status.className = "status";
      status.textContent = h.status === "taken" ? `taken by ${h.taken_by}` : "waiting";
      button.append(status, document.createTextNode(` · ${describe(h)}`));
      button.addEventListener("click", () => send({ type: "watch", handoff_id: h.id }));
      item.append(button);
      list.append(item);
    }
  }

  function open(handoff, transcript) {
    current = handoff;
    detail.hidden = false;
    error.textContent = "";
    lines.replaceChildren();
    for (const line of transcript) addLine(line.role, line.text);
    showStatus(handoff);
  }

  function showStatus(handoff) {
    current = handoff;
    $(".summary").textContent = `${describe(handoff)} · ${handoff.status}`;
    const consent = handoff.transcript_consent;
    $(".consent").textContent =
      consent === true
        ? "The customer agreed to share the conversation."
        : consent === false
          ? "The customer chose not to share the conversation: you see their new messages once you take it."
          : "The customer has not answered whether the conversation may be shared.";
    const mine = handoff.status === "taken" && handoff.taken_by === me;
    takeButton.hidden = handoff.status !== "waiting";
    giveBackButton.hidden = !mine;
    reply.hidden = !mine;
    for (const button of list.querySelectorAll("button")) {
      button.setAttribute("aria-current", String(button.dataset.id === handoff.id));
    }
  }

  function addLine(role, text) {
    const line = document.createElement("div");
    line.className = `line ${role}`;
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = role === "customer" ? "Customer" : role === "agent" ? "Agent" : "Avatar";
    line.append(who, document.createTextNode(text));
    lines.append(line);
    lines.scrollTop = lines.scrollHeight;
  }

  takeButton.addEventListener("click", () => current && send({ type: "take", handoff_id: current.id }));
  giveBackButton.addEventListener("click", () => current && send({ type: "give_back", handoff_id: current.id }));
  reply.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = reply.elements.text.value.trim();
    if (!text || !current) return;
    send({ type: "say", handoff_id: current.id, text, spoken: reply.elements.spoken.checked });
    reply.elements.text.value = "";
  });

  // Live updates come over the channel layer, which may drop one under load: ask again now
  // and then, so a waiting customer is never missed.
  setInterval(() => send({ type: "refresh" }), REFRESH_S * 1000);
  window.AgentConsole = { current: () => current };
  connect();
})();
