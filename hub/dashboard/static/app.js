// DocHub's live dashboard: renders the hub's snapshot (GET /api/snapshot, then the
// `snapshot` server-sent events of /api/events) and traces one document (GET /api/trace/{id}).
// Every figure sits in an element with a stable data-metric attribute and its raw value in
// data-value, so that tests and scrapers read numbers, not formatted text.
"use strict";

(() => {
  const LABELS = {
    vi: {
      title: "Bảng điều khiển trực tiếp",
      namespace: "Không gian tên",
      node: "Nút",
      uptime: "Thời gian chạy",
      waiting: "Đang chờ dữ liệu",
      ready: "Sẵn sàng",
      not_ready: "Chưa sẵn sàng",
      connecting: "Đang kết nối…",
      live: "Trực tiếp",
      reconnecting: "Mất kết nối, đang thử lại…",
      other_language: "English",
      documents: "Văn bản",
      deliveries: "Lượt chuyển",
      receipts: "Báo nhận",
      rejections: "Từ chối",
      duplicates: "Trùng lặp",
      throughput: "Lưu lượng theo thời gian (mỗi giây)",
      latency: "Độ trễ định tuyến (ms)",
      receipts_title: "Báo nhận theo mã trạng thái",
      receipt_status: "Mã trạng thái",
      count: "Số lượng",
      queues: "Hàng đợi",
      queues_help:
        "Hàng đợi có tin nhắn nhưng không có tiến trình nhận (consumer) được tô đỏ: " +
        "tin nhắn ở đó đã ngừng chảy.",
      queue: "Hàng đợi",
      role: "Vai trò",
      agency: "Cơ quan",
      depth: "Tin đang chờ",
      consumers: "Tiến trình nhận",
      role_ingress: "Đầu vào",
      role_dead_letter: "Thư lỗi",
      role_inbox: "Hộp thư đến",
      role_status: "Trạng thái",
      no_consumer: "không có tiến trình nhận",
      top_senders: "Cơ quan gửi nhiều nhất",
      top_recipients: "Cơ quan nhận nhiều nhất",
      refusals: "Văn bản bị từ chối theo lý do",
      dead_letters: "Thư lỗi (dead letter) theo lý do",
      reason: "Lý do",
      statistics: "Thống kê so với số liệu toàn quốc",
      computed_at: "Tính lúc",
      period: "Kỳ",
      national: "Toàn quốc",
      ratio: "Tỷ lệ",
      trace: "Tra cứu một văn bản",
      document_id: "Mã văn bản",
      trace_button: "Tra cứu",
      trace_loading: "Đang tra cứu…",
      trace_not_found: "Không tìm thấy văn bản này.",
      trace_error: "Không tra cứu được",
      none: "Chưa có",
      footer: "DocHub — cập nhật mỗi giây qua server-sent events",
      story_document_id: "Mã văn bản",
      story_status: "Trạng thái",
      story_sender: "Nơi gửi",
      story_document_type: "Loại văn bản",
      story_urgency: "Độ khẩn",
      story_sent_at: "Gửi lúc",
      story_accepted_at: "Hub nhận lúc",
      story_routed_at: "Chuyển lúc",
      story_timeline: "Diễn biến",
      story_deliveries: "Chuyển đến nơi nhận",
      story_receipts: "Báo nhận",
      story_refusals: "Từ chối",
      story_at: "Thời điểm",
      story_event: "Sự kiện",
      story_agency: "Cơ quan",
      story_detail: "Chi tiết",
      story_recipient: "Nơi nhận",
      story_delivered_at: "Vào hộp thư lúc",
      story_latest_code: "Mã mới nhất",
      story_responder: "Cơ quan báo",
      story_code: "Mã",
      story_meaning: "Ý nghĩa",
      story_relayed_at: "Chuyển tiếp lúc",
      story_counted: "Được tính",
      story_reason: "Lý do",
      story_kind: "Loại",
      story_told: "Đã báo cho",
      story_received_at: "Nhận lúc",
      story_dead_lettered_at: "Vào thư lỗi lúc",
      event_accepted: "hub nhận",
      event_delivered: "đã chuyển",
      event_receipt: "báo nhận",
      event_refused: "bị từ chối",
    },
    en: {
      title: "Live dashboard",
      namespace: "Namespace",
      node: "Node",
      uptime: "Uptime",
      waiting: "Waiting for data",
      ready: "Ready",
      not_ready: "Not ready",
      connecting: "Connecting…",
      live: "Live",
      reconnecting: "Connection lost, retrying…",
      other_language: "Tiếng Việt",
      documents: "Documents",
      deliveries: "Deliveries",
      receipts: "Receipts",
      rejections: "Refusals",
      duplicates: "Duplicates",
      throughput: "Throughput over time (per second)",
      latency: "Route latency (ms)",
      receipts_title: "Receipts by status code",
      receipt_status: "Status code",
      count: "Count",
      queues: "Queues",
      queues_help:
        "A queue with messages and no consumer is shown in red: its messages have stopped flowing.",
      queue: "Queue",
      role: "Role",
      agency: "Agency",
      depth: "Waiting",
      consumers: "Consumers",
      role_ingress: "Ingress",
      role_dead_letter: "Dead letters",
      role_inbox: "Inbox",
      role_status: "Status",
      no_consumer: "no consumer",
      top_senders: "Busiest senders",
      top_recipients: "Busiest recipients",
      refusals: "Refused documents by reason",
      dead_letters: "Dead letters by reason",
      reason: "Reason",
      statistics: "Statistics against the national figures",
      computed_at: "Computed at",
      period: "Period",
      national: "National",
      ratio: "Ratio",
      trace: "Trace a document",
      document_id: "Document id",
      trace_button: "Trace",
      trace_loading: "Tracing…",
      trace_not_found: "No such document.",
      trace_error: "The trace failed",
      none: "None yet",
      footer: "DocHub — updated every second over server-sent events",
      story_document_id: "Document id",
      story_status: "Status",
      story_sender: "Sender",
      story_document_type: "Type",
      story_urgency: "Urgency",
      story_sent_at: "Sent at",
      story_accepted_at: "Accepted at",
      story_routed_at: "Routed at",
      story_timeline: "What happened",
      story_deliveries: "Deliveries",
      story_receipts: "Receipts",
      story_refusals: "Refusals",
      story_at: "At",
      story_event: "Event",
      story_agency: "Agency",
      story_detail: "Detail",
      story_recipient: "Recipient",
      story_delivered_at: "In the inbox at",
      story_latest_code: "Latest code",
      story_responder: "Responder",
      story_code: "Code",
      story_meaning: "Meaning",
      story_relayed_at: "Relayed at",
      story_counted: "Counted",
      story_reason: "Reason",
      story_kind: "Kind",
      story_told: "Told",
      story_received_at: "Received at",
      story_dead_lettered_at: "Dead-lettered at",
      event_accepted: "accepted",
      event_delivered: "delivered",
      event_receipt: "receipt",
      event_refused: "refused",
    },
  };
  const SERIES = [
    ["documents_per_s", "documents", "#1f6feb"],
    ["deliveries_per_s", "deliveries", "#2da44e"],
    ["receipts_per_s", "receipts", "#bf8700"],
    ["rejections_per_s", "rejections", "#cf222e"],
  ];
  const STALE_AFTER_MS = 5000;
  const RETRY_AFTER_MS = 2000;

  let language = chosenLanguage();
  let latest = null;
  let chart = null;
  let lastTrace = null;

  function chosenLanguage() {
    const asked = new URLSearchParams(window.location.search).get("lang");
    if (asked in LABELS) return asked;
    try {
      const stored = window.localStorage.getItem("dochub.language");
      if (stored in LABELS) return stored;
    } catch (_) {
      // storage may be disabled: Vietnamese then
    }
    return "vi";
  }

  function t(key) {
    return LABELS[language][key] ?? LABELS.en[key] ?? key.replace(/^(story|event|role)_/, "");
  }

  const numberFormats = new Map();

  function numberFormat(fractionDigits) {
    const key = `${language}:${fractionDigits}`;
    if (!numberFormats.has(key)) {
      numberFormats.set(
        key,
        new Intl.NumberFormat(language === "vi" ? "vi-VN" : "en-US", {
          maximumFractionDigits: fractionDigits,
          minimumFractionDigits: fractionDigits,
        }),
      );
    }
    return numberFormats.get(key);
  }

  function formatted(value, format) {
    if (value === null || value === undefined || value === "") return "–";
    if (format === "time") return moment(String(value));
    if (typeof value !== "number") return String(value);
    switch (format) {
      case "rate":
        return numberFormat(1).format(value);
      case "ms":
        return numberFormat(value < 10 ? 2 : 1).format(value);
      case "percent":
        return numberFormat(1).format(value * 100) + " %";
      case "duration":
        return duration(value);
      default:
        return numberFormat(0).format(value);
    }
  }

  // An ISO time as the hub wrote it (its offset kept), to the millisecond, without the "T".
  function moment(text) {
    const parts = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(\.\d{1,3})?\d*(.*)$/.exec(text);
    return parts ? `${parts[1]} ${parts[2]}${parts[3] ?? ""}${parts[4] === "+00:00" ? " UTC" : ` ${parts[4]}`}` : text;
  }

  function duration(seconds) {
    const s = Math.floor(seconds);
    const parts = [
      [Math.floor(s / 86400), "d"],
      [Math.floor((s % 86400) / 3600), "h"],
      [Math.floor((s % 3600) / 60), "m"],
      [s % 60, "s"],
    ];
    const first = parts.findIndex(([n]) => n > 0);
    return parts
      .slice(first < 0 ? 3 : first)
      .map(([n, unit]) => `${n}${unit}`)
      .join(" ");
  }

  function dig(object, path) {
    return path.split(".").reduce((node, key) => (node == null ? undefined : node[key]), object);
  }

  function fill(element, value, format) {
    element.dataset.value = value === null || value === undefined ? "" : String(value);
    element.textContent = formatted(value, format ?? element.dataset.format);
  }

  function cell(tag, value, { metric, format, className } = {}) {
    const element = document.createElement(tag);
    if (metric) element.dataset.metric = metric;
    if (className) element.className = className;
    if (metric || typeof value === "number") fill(element, value, format);
    else element.textContent = value ?? "–";
    return element;
  }

  function emptyRow(tbody, columns) {
    const row = tbody.insertRow();
    const only = cell("td", t("none"), { className: "empty" });
    only.colSpan = columns;
    row.append(only);
  }

  function applyLabels() {
    document.documentElement.lang = language;
    for (const element of document.querySelectorAll("[data-i18n]")) {
      element.textContent = t(element.dataset.i18n);
    }
  }

  // --- the snapshot --------------------------------------------------------------------------

  let rendered = 0;

  function render(snapshot) {
    latest = snapshot;
    // How many snapshots the page has shown: a test waits for newer figures by it.
    document.body.dataset.snapshots = String(++rendered);
    for (const element of document.querySelectorAll("header [data-metric], main > section [data-metric]")) {
      if (element.closest("tbody[id]") || element.closest("#trace-result")) continue;
      const path = element.dataset.metric;
      if (path === "health.ready" || path === "health.reasons") continue;
      fill(element, dig(snapshot, path));
    }
    renderHealth(snapshot.health);
    renderChart(snapshot.history ?? []);
    renderQueues(snapshot.queues ?? []);
    renderAgencies("top-senders", "top_senders", snapshot.top_senders ?? []);
    renderAgencies("top-recipients", "top_recipients", snapshot.top_recipients ?? []);
    renderCounts("refusals-by-reason", "refusals_by_reason", snapshot.refusals_by_reason);
    renderCounts("dead-letters-by-reason", "dead_letters_by_reason", snapshot.dead_letters_by_reason);
    renderCounts("receipts-by-status", "receipts_by_status", snapshot.receipts_by_status);
    renderStatistics(snapshot.statistics ?? { rows: [] });
  }

  function renderHealth(health) {
    const box = document.getElementById("health");
    const badge = box.querySelector(".badge");
    const reasons = document.getElementById("health-reasons");
    const ready = Boolean(health && health.ready);
    box.dataset.value = health ? String(ready) : "";
    box.dataset.state = health ? (ready ? "ready" : "not-ready") : "unknown";
    badge.dataset.i18n = health ? (ready ? "ready" : "not_ready") : "waiting";
    badge.textContent = t(badge.dataset.i18n);
    reasons.replaceChildren(
      ...((health && health.reasons) || []).map((reason) => cell("li", reason)),
    );
  }

  function renderQueues(queues) {
    const tbody = document.getElementById("queues");
    tbody.replaceChildren();
    const stalled = (queue) =>
      queue.role !== "dead_letter" && (queue.depth ?? 0) > 0 && queue.consumers === 0;
    const ordered = [...queues].sort((a, b) => Number(stalled(b)) - Number(stalled(a)));
    for (const queue of ordered) {
      const row = tbody.insertRow();
      row.dataset.queue = queue.name;
      row.dataset.role = queue.role;
      if (stalled(queue)) {
        row.className = "stalled";
        row.title = t("no_consumer");
      } else if (queue.role === "dead_letter" && (queue.depth ?? 0) > 0) {
        row.className = "attention";
      }
      const agency = queue.agency_name ?? queue.agency ?? "";
      const consumers = cell("td", queue.consumers, {
        metric: `queues.${queue.name}.consumers`,
        className: "num",
      });
      if (stalled(queue)) consumers.append(cell("span", ` ⚠ ${t("no_consumer")}`, { className: "warning" }));
      row.append(
        cell("td", queue.name, { className: "mono" }),
        cell("td", t(`role_${queue.role}`)),
        cell("td", agency, { className: "agency-name" }),
        cell("td", queue.depth, { metric: `queues.${queue.name}.depth`, className: "num" }),
        consumers,
      );
      if (queue.agency) row.cells[2].title = queue.agency;
    }
    if (!queues.length) emptyRow(tbody, 5);
  }

  function renderAgencies(id, key, rows) {
    const tbody = document.getElementById(id);
    tbody.replaceChildren();
    for (const entry of rows) {
      const row = tbody.insertRow();
      row.dataset.agency = entry.agency;
      const name = cell("td", entry.name ?? entry.agency, { className: "agency-name" });
      name.append(cell("span", ` ${entry.agency}`, { className: "agency-id mono" }));
      row.append(
        name,
        cell("td", entry.documents, { metric: `${key}.${entry.agency}.documents`, className: "num" }),
      );
    }
    if (!rows.length) emptyRow(tbody, 2);
  }

  function renderCounts(id, key, counts) {
    const tbody = document.getElementById(id);
    tbody.replaceChildren();
    const entries = Object.entries(counts ?? {}).sort((a, b) => b[1] - a[1]);
    for (const [reason, count] of entries) {
      const row = tbody.insertRow();
      row.append(
        cell("td", reason, { className: "mono" }),
        cell("td", count, { metric: `${key}.${reason}`, className: "num" }),
      );
    }
    if (!entries.length) emptyRow(tbody, 2);
  }

  function renderStatistics(statistics) {
    const tbody = document.getElementById("statistics");
    tbody.replaceChildren();
    for (const entry of statistics.rows ?? []) {
      const row = tbody.insertRow();
      const ratio = entry.national ? entry.documents / entry.national : null;
      row.append(
        cell("td", entry.period),
        cell("td", entry.documents, { metric: `statistics.${entry.period}.documents`, className: "num" }),
        cell("td", entry.national, { metric: `statistics.${entry.period}.national`, className: "num" }),
        cell("td", ratio, {
          metric: `statistics.${entry.period}.ratio`,
          format: "percent",
          className: "num",
        }),
      );
    }
    if (!(statistics.rows ?? []).length) emptyRow(tbody, 4);
  }

  function renderChart(history) {
    const container = document.getElementById("throughput-chart");
    const data = [history.map((point) => point.t)];
    for (const [key] of SERIES) data.push(history.map((point) => point[key] ?? null));
    if (chart === null) {
      chart = new uPlot(
        {
          width: Math.max(container.clientWidth, 300),
          height: 240,
          scales: {
            x: { time: true, range: (_u, min, max) => [Math.min(min, max - 60), max] },
            y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
          axes: [{}, { label: "/s" }],
          series: [{}, ...SERIES.map(([, label, stroke]) => ({ label: t(label), stroke, width: 2 }))],
        },
        data,
        container,
      );
    } else {
      chart.setData(data);
    }
  }

  window.addEventListener("resize", () => {
    if (chart) chart.setSize({ width: Math.max(document.getElementById("throughput-chart").clientWidth, 300), height: 240 });
  });

  // --- live updates ----------------------------------------------------------------------------

  let source = null;
  let lastMessageAt = 0;
  let retryTimer = null;

  function setConnection(state) {
    const element = document.getElementById("connection");
    element.dataset.state = state;
    element.dataset.i18n = state;
    element.textContent = t(state);
  }

  function onSnapshot(text) {
    lastMessageAt = Date.now();
    setConnection("live");
    render(JSON.parse(text));
  }

  function connect() {
    retryTimer = null;
    if (source) source.close();
    source = new EventSource("/api/events");
    source.addEventListener("snapshot", (event) => onSnapshot(event.data));
    source.addEventListener("error", () => {
      setConnection("reconnecting");
      // The browser retries by itself unless the stream failed for good (a non-200 answer).
      if (source.readyState === EventSource.CLOSED) retryLater();
    });
  }

  function retryLater() {
    if (retryTimer === null) retryTimer = window.setTimeout(connect, RETRY_AFTER_MS);
  }

  window.setInterval(() => {
    // A stream that stays open but carries nothing (a stuck proxy, a frozen hub) is restarted.
    if (lastMessageAt && Date.now() - lastMessageAt > STALE_AFTER_MS) {
      lastMessageAt = Date.now();
      setConnection("reconnecting");
      if (source) source.close();
      retryLater();
    }
  }, 1000);

  async function firstSnapshot() {
    try {
      const answer = await fetch("/api/snapshot", { cache: "no-store" });
      if (answer.ok && lastMessageAt === 0) render(await answer.json());
    } catch (_) {
      // the event stream reports the outage
    }
  }

  // --- one document's story --------------------------------------------------------------------

  async function trace(documentId) {
    const result = document.getElementById("trace-result");
    result.dataset.state = "loading";
    result.dataset.documentId = documentId;
    result.replaceChildren(cell("p", t("trace_loading")));
    try {
      const answer = await fetch(`/api/trace/${encodeURIComponent(documentId)}`, { cache: "no-store" });
      if (answer.status === 404) {
        lastTrace = { documentId, story: null };
        showTrace();
        return;
      }
      if (!answer.ok) {
        // The hub says why in {"error": ...}: not a document id (400), no ledger (503).
        const said = await answer.json().catch(() => ({}));
        throw new Error(said.error ?? `HTTP ${answer.status}`);
      }
      lastTrace = { documentId, story: await answer.json() };
      showTrace();
    } catch (error) {
      lastTrace = null;
      result.dataset.state = "error";
      result.replaceChildren(cell("p", `${t("trace_error")}: ${error.message}`, { className: "error" }));
    }
  }

  function showTrace() {
    const result = document.getElementById("trace-result");
    if (lastTrace === null) return;
    if (lastTrace.story === null) {
      result.dataset.state = "not-found";
      result.replaceChildren(cell("p", `${lastTrace.documentId}: ${t("trace_not_found")}`, { className: "error" }));
      return;
    }
    result.dataset.state = "found";
    result.replaceChildren(storyView(lastTrace.story));
  }

  // The story's shape is the hub's (hub/story.py DocumentStory): its facts, then the timeline,
  // deliveries, receipts and refusals as tables. Agency ids get the registry's names where the
  // snapshot knows them.
  const STORY_FACTS = [
    "document_id", "status", "sender", "document_type", "urgency", "sent_at", "accepted_at", "routed_at",
  ];
  const STORY_TABLES = [
    ["timeline", "story_timeline", ["at", "event", "agency", "detail"]],
    ["deliveries", "story_deliveries", ["recipient", "delivered_at", "latest_code"]],
    ["receipts", "story_receipts", ["responder", "code", "meaning", "at", "relayed_at", "counted"]],
    ["refusals", "story_refusals", ["reason", "detail", "kind", "told", "received_at", "dead_lettered_at"]],
  ];
  const AGENCY_FIELDS = new Set(["sender", "agency", "recipient", "responder", "told"]);

  function agencyNames() {
    const names = new Map();
    if (!latest) return names;
    for (const entry of [...(latest.top_senders ?? []), ...(latest.top_recipients ?? [])]) {
      if (entry.name) names.set(entry.agency, entry.name);
    }
    for (const queue of latest.queues ?? []) {
      if (queue.agency && queue.agency_name) names.set(queue.agency, queue.agency_name);
    }
    return names;
  }

  function storyValue(key, value, names) {
    if (value === null || value === undefined || value === "") return cell("span", "–");
    if (AGENCY_FIELDS.has(key) && names.has(value)) {
      const element = cell("span", names.get(value), { className: "agency-name" });
      element.append(cell("span", ` ${value}`, { className: "agency-id mono" }));
      return element;
    }
    if (key === "event") return cell("span", t(`event_${value}`));
    if (typeof value === "boolean") return cell("span", value ? "✓" : "–");
    if (typeof value === "object") return cell("span", JSON.stringify(value), { className: "mono" });
    if (key.endsWith("_at") || key === "at") {
      const element = cell("span", moment(String(value)), { className: "mono" });
      element.title = String(value);
      return element;
    }
    return cell("span", String(value));
  }

  function storyView(story) {
    const names = agencyNames();
    const view = document.createElement("div");
    const facts = document.createElement("dl");
    facts.className = "story";
    const known = new Set([...STORY_FACTS, ...STORY_TABLES.map(([key]) => key)]);
    const factKeys = [...STORY_FACTS, ...Object.keys(story).filter((key) => !known.has(key))];
    for (const key of factKeys) {
      if (!(key in story)) continue;
      const content = document.createElement("dd");
      content.dataset.field = key;
      content.append(storyValue(key, story[key], names));
      facts.append(cell("dt", t(`story_${key}`)), content);
    }
    view.append(facts);
    for (const [key, title, columns] of STORY_TABLES) {
      const rows = story[key];
      if (!Array.isArray(rows) || !rows.length) continue;
      const keys = [...new Set([...columns, ...rows.flatMap((row) => Object.keys(row))])];
      const table = document.createElement("table");
      table.className = "story";
      table.dataset.part = key;
      table.createCaption().textContent = t(title);
      table.createTHead().insertRow().append(...keys.map((column) => cell("th", t(`story_${column}`))));
      const tbody = table.createTBody();
      for (const row of rows) {
        tbody.insertRow().append(...keys.map((column) => {
          const td = document.createElement("td");
          td.dataset.field = column;
          td.append(storyValue(column, row[column], names));
          return td;
        }));
      }
      view.append(table);
    }
    return view;
  }

  // --- wiring ----------------------------------------------------------------------------------

  document.getElementById("trace-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const documentId = document.getElementById("trace-id").value.trim();
    if (documentId) trace(documentId);
  });

  document.getElementById("language").addEventListener("click", () => {
    language = language === "vi" ? "en" : "vi";
    try {
      window.localStorage.setItem("dochub.language", language);
    } catch (_) {
      // not kept across reloads then
    }
    applyLabels();
    if (chart) {
      chart.destroy();
      chart = null;
    }
    if (latest) render(latest);
    showTrace();
  });

  applyLabels();
  setConnection("connecting");
  firstSnapshot();
  connect();
})();
