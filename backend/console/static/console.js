// The agent console's behaviour. No inline script anywhere (the Content-Security-Policy
// allows scripts from this file and the vendored htmx only). Pages are rendered by the
// server; htmx fetches their live parts again when the event stream says something
// changed; the agent's actions are calls to the agent API with the page's CSRF token.
(() => {
  "use strict";

  const meta = (name) => {
    const el = document.querySelector(`meta[name="${name}"]`);
    return el ? el.content : null;
  };
  const csrf = meta("csrf-token");
  const page = document.querySelector("[data-page]");
  const handoffId = page && page.dataset.handoffId ? Number(page.dataset.handoffId) : null;

  // ------------------------------------------------------------ messages to the agent
  const toast = document.getElementById("toast");
  let toastTimer = null;
  function say(text, kind) {
    if (!toast) return;
    toast.textContent = text;
    toast.className = "toast" + (kind === "error" ? " error" : "");
    toast.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { toast.hidden = true; }, kind === "error" ? 8000 : 3000);
  }

  function plain(message) {
    // API messages are "中文 / english": the console shows the Chinese part.
    return String(message || "").split(" / ")[0];
  }

  async function api(method, path, body) {
    let response;
    try {
      response = await fetch(path, {
        method,
        credentials: "same-origin",
        headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf || ""},
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      say("网络异常，请检查连接后重试", "error");
      return null;
    }
    if (response.status === 401) {
      window.location.href = "/console/login";
      return null;
    }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const reason = data && data.error ? plain(data.error.message) : "";
      say(reason || `操作没有成功（${response.status}）`, "error");
      return null;
    }
    return data;
  }

  function refresh(selector) {
    const el = document.querySelector(selector);
    if (el && window.htmx) window.htmx.trigger(el, "console:refresh");
  }

  // ------------------------------------------------------------ live connection
  // With the event stream open, parts refresh on its events; while it is down (not
  // reachable, reconnecting), they refresh every few seconds instead.
  const liveState = document.getElementById("live-state");
  let live = false;
  function showLive(on) {
    live = on;
    if (!liveState) return;
    liveState.textContent = on ? "实时" : "自动刷新";
    liveState.className = "live-state " + (on ? "on" : "off");
  }
  document.addEventListener("htmx:sseOpen", () => {
    showLive(true);
    refresh("#queue");
    refresh("#live");
  });
  document.addEventListener("htmx:sseError", () => showLive(false));
  if (page) {
    setTimeout(() => { if (!live) showLive(false); }, 3000);
    setInterval(() => {
      if (!live) { refresh("#queue"); refresh("#live"); }
    }, 3000);
  }

  // An event about another conversation does not refresh this one.
  document.addEventListener("htmx:confirm", (event) => {
    const trigger = event.detail.triggeringEvent;
    if (!handoffId || !trigger || trigger.type !== "sse:message") return;
    try {
      const data = JSON.parse(trigger.detail.data);
      if (data.handoff_id !== undefined && Number(data.handoff_id) !== handoffId) {
        event.preventDefault();  // and never issueRequest(): skipped
      }
    } catch (_) { /* not JSON: refresh anyway */ }
  });

  // ------------------------------------------------------------ waiting times tick
  function waited(since) {
    const seconds = Math.max(0, Math.floor((Date.now() - since) / 1000));
    if (seconds < 60) return `${seconds} 秒`;
    const minutes = Math.floor(seconds / 60);
    if (minutes < 60) return `${minutes} 分 ${String(seconds % 60).padStart(2, "0")} 秒`;
    return `${Math.floor(minutes / 60)} 小时 ${String(minutes % 60).padStart(2, "0")} 分`;
  }
  setInterval(() => {
    document.querySelectorAll("[data-since]").forEach((el) => {
      const since = Date.parse(el.dataset.since);
      if (!Number.isNaN(since)) el.textContent = waited(since);
    });
  }, 1000);

  // ------------------------------------------------------------ the alert
  // A visible banner, the tab's title and (once the agent turned it on) a tone, for
  // every customer who starts waiting while the queue is open.
  const alertBox = document.getElementById("alert");
  const soundToggle = document.getElementById("sound-toggle");
  const baseTitle = document.title;
  let audio = null;
  // On unless the agent turned it off (the browser plays it after their first click).
  let soundOn = window.localStorage.getItem("console-sound") !== "off";

  function showSound() {
    if (!soundToggle) return;
    soundToggle.textContent = soundOn ? "提醒音：开" : "提醒音：关";
    soundToggle.classList.toggle("on", soundOn);
    soundToggle.setAttribute("aria-pressed", soundOn ? "true" : "false");
  }
  function ensureAudio() {
    if (!audio && window.AudioContext) audio = new window.AudioContext();
    if (audio && audio.state === "suspended") audio.resume();
  }
  function chime() {
    if (!soundOn) return;
    ensureAudio();
    if (!audio) return;
    [880, 1175].forEach((frequency, index) => {
      const start = audio.currentTime + index * 0.22;
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, start);
      gain.gain.exponentialRampToValueAtTime(0.3, start + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.2);
      osc.connect(gain).connect(audio.destination);
      osc.start(start);
      osc.stop(start + 0.21);
    });
  }
  if (soundToggle) {
    showSound();
    soundToggle.addEventListener("click", () => {
      soundOn = !soundOn;
      window.localStorage.setItem("console-sound", soundOn ? "on" : "off");
      showSound();
      if (soundOn) { ensureAudio(); chime(); }
    });
    // Browsers start audio only after a gesture on the page: the first click or key.
    const unlock = () => { if (soundOn) ensureAudio(); };
    document.addEventListener("click", unlock, {once: true});
    document.addEventListener("keydown", unlock, {once: true});
  }

  function raise(count) {
    if (!alertBox) return;
    alertBox.textContent = `有 ${count} 位新客户在等待人工服务` + (handoffId ? "，点此查看排队" : "");
    alertBox.hidden = false;
    document.title = `【${count} 位新客户】${baseTitle}`;
    chime();
  }
  function dismiss() {
    if (alertBox) alertBox.hidden = true;
    document.title = baseTitle;
  }
  if (alertBox) {
    alertBox.addEventListener("click", () => {
      // In a conversation the banner leads to the queue; on the queue it just closes.
      if (handoffId) window.location.href = "/console";
      else dismiss();
    });
  }

  // While the agent is in a conversation, a customer who starts waiting elsewhere (or
  // one put back in the queue) is announced too.
  let waitingElsewhere = 0;
  document.addEventListener("htmx:sseMessage", (event) => {
    if (!handoffId) return;
    try {
      const data = JSON.parse(event.detail.data);
      if (data.type !== "queue" || Number(data.handoff_id) === handoffId) return;
      if (data.say === "queued" || data.agent) {
        waitingElsewhere += 1;
        raise(waitingElsewhere);
      }
    } catch (_) { /* not JSON: nothing to announce */ }
  });
  document.addEventListener("visibilitychange", () => { if (!document.hidden) document.title = baseTitle; });

  let known = null;  // the waiting handoffs already seen (null: first look)
  function checkQueue() {
    const data = document.querySelector(".queue-data");
    if (!data) return;
    const ids = data.dataset.openIds.split(" ").filter(Boolean);
    if (known === null) { known = new Set(ids); return; }
    const fresh = ids.filter((id) => !known.has(id));
    known = new Set(ids);
    if (!fresh.length) return;
    fresh.forEach((id) => {
      const row = document.querySelector(`tr[data-handoff-id="${id}"]`);
      if (row) row.classList.add("new");
    });
    raise(fresh.length);
  }
  checkQueue();

  // ------------------------------------------------------------ one conversation
  const transcriptAtBottom = () => {
    const t = document.getElementById("transcript");
    return !t || t.scrollHeight - t.scrollTop - t.clientHeight < 80;
  };
  const toBottom = () => {
    const t = document.getElementById("transcript");
    if (t) t.scrollTop = t.scrollHeight;
  };
  let stick = true;
  document.addEventListener("htmx:beforeSwap", (event) => {
    if (event.detail.target && event.detail.target.id === "live") stick = transcriptAtBottom();
  });
  document.addEventListener("htmx:afterSwap", (event) => {
    const target = event.detail.target;
    if (!target) return;
    if (target.id === "queue") checkQueue();
    if (target.id === "live") {
      if (stick) toBottom();
      applyState();
    }
  });

  const replyForm = document.getElementById("reply");
  const replyText = document.getElementById("reply-text");
  const replySend = document.getElementById("reply-send");
  const replyHint = document.getElementById("reply-hint");

  function applyState() {
    const head = document.querySelector(".conv-head");
    if (!head || !replyText) return;
    const canReply = head.dataset.canReply === "yes";
    replyText.disabled = !canReply;
    replySend.disabled = !canReply;
    const status = head.dataset.status;
    replyHint.textContent = canReply ? "" :
      status === "open" ? "先点“接入对话”再回复" :
      status === "closed" ? "对话已结束" : `由 ${head.dataset.agent} 处理中`;
  }

  async function sendReply() {
    const text = replyText.value.trim();
    if (!text || replyText.disabled) return;
    replySend.disabled = true;
    const sent = await api("POST", `/api/v1/handoffs/${handoffId}/messages`, {text});
    replySend.disabled = false;
    if (sent) {
      replyText.value = "";
      stick = true;
      refresh("#live");
    }
    replyText.focus();
  }

  if (replyForm && handoffId) {
    toBottom();
    applyState();
    replyForm.addEventListener("submit", (event) => { event.preventDefault(); sendReply(); });
    replyText.addEventListener("keydown", (event) => {
      // Enter sends; Shift+Enter is a new line; Enter that ends an IME composition
      // (choosing Chinese characters) is not a send.
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
        event.preventDefault();
        sendReply();
      }
    });
    const canned = document.getElementById("canned");
    canned.addEventListener("change", () => {
      if (!canned.value) return;
      replyText.value = replyText.value.trim() ? `${replyText.value.trim()}\n${canned.value}` : canned.value;
      canned.value = "";
      if (!replyText.disabled) replyText.focus();
    });

    const closeDialog = document.getElementById("close-dialog");
    document.addEventListener("click", async (event) => {
      const button = event.target.closest("button[data-action]");
      if (!button) return;
      if (button.dataset.action === "accept") {
        button.disabled = true;
        const accepted = await api("POST", `/api/v1/handoffs/${handoffId}/accept`, {});
        button.disabled = false;
        if (accepted) { say("已接入，客户会收到客服已接入的提示"); refresh("#live"); replyText.focus(); }
        else refresh("#live");
      }
      if (button.dataset.action === "close") closeDialog.showModal();
    });
    closeDialog.addEventListener("close", async () => {
      if (closeDialog.returnValue !== "confirm") return;
      const note = document.getElementById("close-note").value.trim();
      const closed = await api("POST", `/api/v1/handoffs/${handoffId}/close`, note ? {note} : {});
      if (closed) window.location.href = "/console";
    });

    const transfer = document.getElementById("transfer-form");
    if (transfer) {
      transfer.addEventListener("submit", async (event) => {
        event.preventDefault();
        const agent = document.getElementById("transfer-to").value;
        const moved = await api("POST", `/api/v1/handoffs/${handoffId}/transfer`, {agent});
        if (moved) { say(`已转接给 ${agent}`); refresh("#live"); refresh("#notes"); }
      });
    }

    document.getElementById("note-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const input = document.getElementById("note-text");
      const text = input.value.trim();
      if (!text) return;
      const saved = await api("POST", `/api/v1/handoffs/${handoffId}/notes`, {text});
      if (saved) { input.value = ""; say("备注已保存"); refresh("#notes"); }
    });
  }
})();
