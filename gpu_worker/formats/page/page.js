// The transcript page: render, follow playback, edit, search, export. No network, no libraries: the file is
// the whole product, so it opens from file://, S3 or `scribefleet view` alike. The subtitle rules below are a
// line-for-line port of gpu_worker/formats/subtitles.py, fed by the same settings from Python (data.cue_rules);
// tests/browser compares this page's unedited exports with the worker's files byte for byte.
(() => {
  "use strict";
  const data = JSON.parse(document.getElementById("transcript-data").textContent);
  const rules = data.cue_rules;
  const SENTENCE_END = new RegExp(data.patterns.sentence_end);
  const CLAUSE_END = new RegExp(data.patterns.clause_end);
  const STORAGE_KEY = `scribefleet-transcript:${data.id}`;
  const HOLD_S = 1.0; // the last word stays highlighted through a pause this long, so the eye keeps its place
  const STEP_S = 5;

  const $ = (id) => document.getElementById(id);
  const media = $("media");
  const transcriptEl = $("transcript");
  const playhead = $("playhead");
  const timeline = $("timeline");
  const root = document.documentElement;

  // ---- text rules shared with the writers (gpu_worker/formats/common.py) -------------------------------------
  const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/g;
  const clean = (text) => String(text).replace(CONTROL, "").replace(/\s+/g, " ").trim();
  const codePoints = (text) => { let n = 0; for (const _ of text) n++; return n; }; // Python's len()
  const pad = (n, width = 2) => String(n).padStart(width, "0");
  const clock = (seconds) => {
    const t = Math.max(Math.trunc(seconds), 0);
    return `${pad(Math.floor(t / 3600))}:${pad(Math.floor((t % 3600) / 60))}:${pad(t % 60)}`;
  };
  // Python's round(): ties to even. Times become whole milliseconds exactly as the worker rounds them.
  const roundHalfEven = (x) => {
    const f = Math.floor(x), d = x - f;
    return d > 0.5 ? f + 1 : d < 0.5 ? f : (f % 2 === 0 ? f : f + 1);
  };
  const MARKUP = /[&<>"]/;
  const escapeHtml = (t) => (MARKUP.test(t) ? String(t).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;") : String(t));

  // ---- the model: segments of words, speaker names, edits kept in localStorage ---------------------------------
  const segments = data.segments.map((s, index) => ({
    index, start: s.start, end: s.end, speaker: s.speaker, text: s.text, timed: s.timed, edited: false, turn: null,
    words: s.words.map(([start, end, text, p]) => ({ start, end, text, p, seg: null, el: null })),
  }));
  const colours = new Map(data.speakers.map((s) => [s.label, s.colour]));
  const colourOf = (label) => colours.get(label) || data.unlabelled_colour;
  let renames = {};
  let storageWorks = true;

  function loadEdits() {
    let saved = null;
    try { saved = JSON.parse(localStorage.getItem(STORAGE_KEY) || "null"); } catch (_) { storageWorks = false; }
    if (!saved || saved.v !== 1) return;
    renames = saved.names || {};
    for (const [index, words] of Object.entries(saved.segments || {})) {
      const seg = segments[Number(index)];
      if (!seg) continue;
      seg.words = words.map(([start, end, text, p]) => ({ start, end, text, p, seg: null, el: null }));
      seg.edited = true;
    }
  }

  function saveEdits() {
    const edited = {};
    for (const seg of segments) if (seg.edited) edited[seg.index] = seg.words.map((w) => [w.start, w.end, w.text, w.p]);
    try {
      localStorage.setItem(STORAGE_KEY, JSON.stringify({ v: 1, names: renames, segments: edited }));
      storageWorks = true;
    } catch (_) { storageWorks = false; }
    showEditState();
  }

  const names = () => ({ ...data.result.speaker_names, ...renames });
  const display = (label) => (label == null ? "" : (names()[label] ?? label));
  const showSpeakers = () => {
    const labels = new Set(segments.filter((s) => s.speaker != null).map((s) => s.speaker));
    const named = names();
    return labels.size > 1 || [...labels].some((l) => Object.prototype.hasOwnProperty.call(named, l));
  };
  const segmentText = (seg) => (seg.edited ? clean(seg.words.map((w) => w.text).join("")) : seg.text);

  // Consecutive segments of one speaker (common.speaker_turns): a paragraph here, a block in txt.
  function speakerTurns() {
    const labelled = showSpeakers();
    const turns = [];
    for (const seg of segments) {
      if (!segmentText(seg)) continue;
      const last = turns[turns.length - 1];
      if (last && last.speaker === seg.speaker) {
        last.segs.push(seg);
        last.end = Math.max(last.end, seg.end);
        continue;
      }
      turns.push({ speaker: seg.speaker, name: labelled ? clean(display(seg.speaker)) : "", start: seg.start, end: seg.end, segs: [seg] });
    }
    return turns;
  }

  // ---- subtitle cues: a port of subtitles.build_cues ----------------------------------------------------------
  const srtPrefix = (name) => (name ? `[${name}] ` : "");

  function layout(tokens, width, indent) {
    const lines = [];
    let current = "";
    for (const token of tokens) {
      const candidate = current ? current + token : token.trimStart();
      const limit = width - (lines.length ? 0 : indent);
      if (current && codePoints(candidate) > limit) {
        lines.push(current);
        current = token.trimStart();
      } else {
        current = candidate;
      }
    }
    if (current) lines.push(current);
    return lines;
  }

  function balanced(tokens, width, indent) {
    let best = layout(tokens, width, indent);
    for (let narrower = width - 1; narrower > 0; narrower--) {
      const lines = layout(tokens, narrower, indent);
      if (lines.length > best.length) break;
      best = lines;
    }
    return best;
  }

  function runs() {
    const out = [];
    for (const seg of segments) {
      for (const word of seg.words) {
        const last = out[out.length - 1];
        if (last && last.speaker === seg.speaker) {
          const prev = last.words[last.words.length - 1];
          if (!SENTENCE_END.test(prev.text.trim()) && word.start - prev.end <= rules.pause) {
            last.words.push(word);
            continue;
          }
        }
        out.push({ speaker: seg.speaker, words: [word] });
      }
    }
    return out;
  }

  function splitRun(words, indent) {
    const n = words.length, capacity = rules.max_line_chars * rules.max_lines;
    const cost = new Array(n + 1).fill(Infinity), from = new Array(n + 1).fill(0);
    cost[0] = 0;
    for (let j = 0; j < n; j++) {
      if (cost[j] === Infinity) continue;
      const first = j === 0 ? indent : 0;
      for (let i = j + 1; i <= n; i++) {
        const lines = layout(words.slice(j, i).map((w) => w.text), rules.max_line_chars, first);
        const tooLong = words[i - 1].end - words[j].start > rules.max_duration;
        if (i > j + 1 && (lines.length > rules.max_lines || tooLong)) break;
        const slack = capacity - first - lines.reduce((sum, line) => sum + codePoints(line), 0);
        let c = cost[j] + 10000 + slack * slack;
        if (i < n && CLAUSE_END.test(words[i - 1].text.trim())) c -= 300;
        if (c < cost[i]) { cost[i] = c; from[i] = j; }
      }
    }
    const pieces = [];
    for (let i = n; i > 0; i = from[i]) pieces.push(words.slice(from[i], i));
    return pieces.reverse();
  }

  function buildCues() {
    const labelled = showSpeakers();
    const cues = [];
    for (const run of runs()) {
      const name = labelled ? clean(display(run.speaker)) : "";
      const newTurn = !cues.length || cues[cues.length - 1].speaker !== run.speaker;
      const prefix = codePoints(srtPrefix(name));
      splitRun(run.words, newTurn ? prefix : 0).forEach((piece, k) => {
        const first = newTurn && k === 0;
        const lines = balanced(piece.map((w) => w.text), rules.max_line_chars, first ? prefix : 0);
        const start = roundHalfEven(piece[0].start * 1000), end = roundHalfEven(piece[piece.length - 1].end * 1000);
        cues.push({ start, end: Math.max(end, start + 1), speaker: run.speaker, name, first, lines });
      });
    }
    fixTiming(cues, roundHalfEven(rules.min_duration * 1000));
    return cues;
  }

  function fixTiming(cues, minMs) {
    for (let k = 1; k < cues.length; k++) {
      const prev = cues[k - 1], cue = cues[k];
      if (cue.start < prev.end) {
        if (cue.start > prev.start) prev.end = cue.start;
        else { cue.start = prev.end; cue.end = Math.max(cue.end, cue.start + 1); }
      }
    }
    cues.forEach((cue, k) => {
      const limit = k + 1 < cues.length ? cues[k + 1].start : cue.start + minMs;
      cue.end = Math.max(cue.end, Math.min(cue.start + minMs, limit));
    });
  }

  // ---- exports, byte-compatible with the worker's writers ----------------------------------------------------
  const hms = (ms) => [Math.floor(ms / 3600000), Math.floor(ms / 60000) % 60, Math.floor(ms / 1000) % 60];
  const srtTime = (ms) => { const [h, m, s] = hms(ms); return `${pad(h)}:${pad(m)}:${pad(s)},${pad(ms % 1000, 3)}`; };
  const vttTime = (ms) => { const [h, m, s] = hms(ms); return `${pad(h)}:${pad(m)}:${pad(s)}.${pad(ms % 1000, 3)}`; };
  const vttEscape = (t) => t.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

  const exporters = {
    srt: () => buildCues().map((c, k) => {
      // SRT has no escapes and players read <b>, <i> in it as markup: as subtitles.py, single angle quotes instead
      const content = [(c.first ? srtPrefix(c.name) : "") + c.lines[0], ...c.lines.slice(1)].join("\n")
        .replace(/</g, "‹").replace(/>/g, "›");
      return `${k + 1}\n${srtTime(c.start)} --> ${srtTime(c.end)}\n${content}\n\n`;
    }).join(""),
    vtt: () => {
      const blocks = buildCues().map((c) => {
        const lines = c.lines.map(vttEscape);
        if (c.name) lines[0] = `<v ${vttEscape(c.name)}>${lines[0]}`;
        return `${vttTime(c.start)} --> ${vttTime(c.end)}\n${lines.join("\n")}`;
      });
      return blocks.length ? `WEBVTT\n\n${blocks.join("\n\n")}\n` : "WEBVTT\n";
    },
    txt: () => speakerTurns().map((t) => `${t.name} [${clock(t.start)}]`.trimStart()
      + `\n${t.segs.map(segmentText).filter(Boolean).join(" ")}\n`).join("\n"),
    json: () => JSON.stringify({
      format_version: data.json_format_version,
      ...data.result,
      segments: segments.map((s) => ({
        start: s.start, end: s.end, text: segmentText(s), speaker: s.speaker,
        // Words spread over an untimed segment only serve the page; the export invents no word times.
        words: s.timed || s.edited
          ? s.words.map((w) => ({ start: w.start, end: w.end, text: w.text, probability: w.p, speaker: s.speaker })) : [],
      })),
      speaker_names: names(),
    }, null, 2) + "\n",
  };
  const EXTENSIONS = { srt: ".srt", vtt: ".vtt", txt: ".txt", json: ".json" };
  const MIME = { srt: "application/x-subrip", vtt: "text/vtt", txt: "text/plain", json: "application/json" };

  function download(format) {
    const blob = new Blob([exporters[format]()], { type: `${MIME[format]};charset=utf-8` });
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = (data.title || "transcript") + EXTENSIONS[format];
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 60000);
  }

  // ---- rendering ------------------------------------------------------------------------------------------------
  let turns = [];
  let flat = []; // every rendered word in document order
  let byStart = [], starts = new Float64Array(0); // the same words ordered by start time, for binary search
  const wordOfElement = new WeakMap();

  function speakerButton(label, name) {
    if (label == null) return `<span class="speaker">(no speaker)</span>`;
    return `<button type="button" class="speaker" data-speaker="${escapeHtml(label)}" title="Rename this speaker everywhere">${escapeHtml(name)}</button>`;
  }

  function turnText(turn) {
    let out = "", firstWord = true;
    for (const seg of turn.segs) {
      for (const w of seg.words) {
        const spaced = !firstWord && /^\s/.test(w.text);
        out += (spaced ? " " : "") + `<span class="w${w.p < data.low_confidence ? " unsure" : ""}">${escapeHtml(w.text.trim())}</span>`;
        firstWord = false;
      }
    }
    return out;
  }

  function turnHtml(turn, k) {
    return `<article class="turn" data-turn="${k}" style="--c:${colourOf(turn.speaker)}"><div class="turn-head">`
      + speakerButton(turn.speaker, display(turn.speaker))
      + `<button type="button" class="tc" data-seek="${turn.start}" title="Play from here">${clock(turn.start)}</button>`
      + `<button type="button" class="edit-turn">Edit</button></div><p class="text">${turnText(turn)}</p></article>`;
  }

  function renderHeader() {
    $("title").textContent = data.title || "Transcript";
    const words = segments.reduce((n, s) => n + s.words.length, 0);
    const thousands = String(words).replace(/\B(?=(\d{3})+$)/g, ","); // not toLocaleString: its ICU start-up is slow
    const meta = [["Duration", clock(data.result.duration)], ["Language", data.result.language || "unknown"],
      ["Model", data.result.model || "unknown"], ["Words", thousands]];
    $("meta").innerHTML = meta.map(([k, v]) => `<div><dt>${k}</dt><dd>${escapeHtml(v)}</dd></div>`).join("");
    $("speakers").innerHTML = data.speakers.map((s) => `<li style="--c:${s.colour}"><span class="swatch" aria-hidden="true"></span>`
      + `${speakerButton(s.label, display(s.label))}</li>`).join("");
  }

  function renderTimeline() {
    const lanes = new Map(data.speakers.map((s, k) => [s.label, k]));
    const total = Math.max(data.result.duration, ...segments.map((s) => s.end), 0.001);
    let html = "";
    for (const turn of turns) {
      const lane = lanes.has(turn.speaker) ? lanes.get(turn.speaker) : lanes.size;
      html += `<div class="block" style="--c:${colourOf(turn.speaker)};left:${(100 * turn.start) / total}%;`
        + `width:${(100 * (turn.end - turn.start)) / total}%;top:${2 + 8 * lane}px"></div>`;
    }
    timeline.insertAdjacentHTML("beforeend", html);
    const unlabelled = turns.some((t) => !lanes.has(t.speaker));
    timeline.style.setProperty("--lanes", String(Math.max(lanes.size + (unlabelled ? 1 : 0), 1)));
    timeline.setAttribute("aria-valuemax", String(Math.round(total)));
  }

  function indexWords() {
    flat = [];
    for (const turn of turns) for (const seg of turn.segs) for (const w of seg.words) { w.seg = seg; flat.push(w); }
    const ordered = flat.every((w, k) => k === 0 || flat[k - 1].start <= w.start); // usual: skip the sort
    byStart = ordered ? flat : flat.slice().sort((a, b) => a.start - b.start); // stable: ties keep reading order
    starts = Float64Array.from(byStart, (w) => w.start);
    searchIndex = null;
  }

  function bindElements(turn, article) {
    const spans = article.getElementsByClassName("w");
    let k = 0;
    for (const seg of turn.segs) for (const w of seg.words) { w.el = spans[k++]; wordOfElement.set(w.el, w); }
  }

  function renderTranscript() {
    turns = speakerTurns();
    turns.forEach((turn) => turn.segs.forEach((seg) => { seg.turn = turn; }));
    transcriptEl.innerHTML = turns.map(turnHtml).join("");
    const articles = transcriptEl.children;
    turns.forEach((turn, k) => { turn.el = articles[k]; bindElements(turn, articles[k]); });
    indexWords();
  }

  function rerenderTurn(turn) {
    clearSearch(false);
    if (current && current.el) current.el.classList.remove("current");
    current = null;
    const k = turns.indexOf(turn);
    turn.el.outerHTML = turnHtml(turn, k);
    turn.el = transcriptEl.children[k];
    bindElements(turn, turn.el);
    indexWords();
    runSearch();
    highlight(now());
  }

  // ---- playback: the current word by binary search on start times ---------------------------------------------
  let current = null;
  let cursor = 0; // where playback would start when no media is loaded yet
  let pendingSeek = null;
  let lastUserScroll = -Infinity;
  const hasMedia = () => Boolean(media.currentSrc || media.getAttribute("src"));
  const now = () => (hasMedia() && media.readyState > 0 ? media.currentTime : cursor);
  const totalTime = () => (Number.isFinite(media.duration) && media.duration > 0 ? media.duration : data.result.duration) || 0.001;

  function wordAt(t) {
    let lo = 0, hi = starts.length; // first start > t
    while (lo < hi) { const mid = (lo + hi) >> 1; if (starts[mid] <= t) lo = mid + 1; else hi = mid; }
    const w = lo > 0 ? byStart[lo - 1] : null;
    return w && t <= w.end + HOLD_S ? w : null;
  }

  let announced = -1;
  function highlight(t) {
    const w = wordAt(t);
    playhead.style.left = `${Math.min(100, (100 * t) / totalTime())}%`;
    if (Math.floor(t) !== announced) {
      announced = Math.floor(t);
      timeline.setAttribute("aria-valuenow", String(announced));
      timeline.setAttribute("aria-valuetext", clock(t));
    }
    if (w === current) return;
    if (current && current.el) current.el.classList.remove("current");
    current = w;
    if (w && w.el) {
      w.el.classList.add("current");
      if (!media.paused && performance.now() - lastUserScroll > 4000) follow(w.el);
    }
  }

  function follow(el) {
    const rect = el.getBoundingClientRect();
    const top = $("player").getBoundingClientRect().bottom;
    if (rect.top < top || rect.bottom > window.innerHeight) el.scrollIntoView({ block: "center" });
  }

  let ticking = false;
  function tick() {
    highlight(media.currentTime);
    ticking = !media.paused;
    if (ticking) requestAnimationFrame(tick);
  }

  function seek(t) {
    t = Math.min(Math.max(t, 0), totalTime());
    cursor = t;
    if (hasMedia() && media.readyState > 0) media.currentTime = t;
    else pendingSeek = t;
    highlight(t);
  }

  function togglePlay() {
    if (!hasMedia()) { flashHint("Open the media file first: “Open media…” or drop it on the page."); return; }
    if (media.paused) media.play().catch((e) => flashHint(`Cannot play: ${e.message}`)); else media.pause();
  }

  function flashHint(text, warn = true) {
    const hint = $("media-hint");
    hint.textContent = text;
    hint.classList.toggle("warn", warn);
  }

  let objectUrl = null;
  function loadMedia(url, label) {
    media.src = url;
    root.classList.add("has-media");
    flashHint(label ? `Playing along: ${label}` : "", false);
  }

  media.addEventListener("loadedmetadata", () => {
    root.classList.toggle("audio-only", !media.videoWidth);
    if (pendingSeek != null) { media.currentTime = pendingSeek; pendingSeek = null; }
    const expected = data.result.duration;
    if (expected && Math.abs(media.duration - expected) > 2) {
      flashHint(`This media is ${clock(media.duration)} long, the transcript ${clock(expected)}: is it the right file?`);
    }
  });
  media.addEventListener("error", () => flashHint("This file cannot be played here (format or link)."));
  media.addEventListener("play", () => { if (!ticking) { ticking = true; requestAnimationFrame(tick); } });
  for (const type of ["timeupdate", "seeked", "seeking", "pause"]) media.addEventListener(type, () => highlight(media.currentTime));

  // ---- editing ----------------------------------------------------------------------------------------------------
  function showEditState() {
    const count = Object.keys(renames).length + segments.filter((s) => s.edited).length;
    $("edit-state").textContent = !storageWorks ? "Edits cannot be saved in this browser: export them."
      : count ? `${count} edit${count === 1 ? "" : "s"} saved in this browser` : "";
    $("discard").hidden = !count;
  }

  function rename(label, value) {
    const name = clean(value);
    if (!name || name === (data.result.speaker_names[label] ?? label)) delete renames[label];
    else renames[label] = name;
    const shown = display(label);
    for (const el of document.querySelectorAll(`.speaker[data-speaker="${CSS.escape(label)}"]`)) el.textContent = shown;
    saveEdits();
  }

  function startRename(button) {
    const label = button.dataset.speaker;
    const input = document.createElement("input");
    input.className = "rename";
    input.value = display(label);
    input.setAttribute("aria-label", `New name for ${display(label)}`);
    let done = false;
    const finish = (commit) => {
      if (done) return;
      done = true;
      input.replaceWith(button);
      if (commit) rename(label, input.value);
      button.focus();
    };
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter") { e.preventDefault(); finish(true); } else if (e.key === "Escape") finish(false);
    });
    input.addEventListener("blur", () => finish(true));
    button.replaceWith(input);
    input.focus();
    input.select();
  }

  // New tokens spread over [start, end] by length: an estimate until the next transcription, kept in order.
  function spread(tokens, start, end, lead, p) {
    const total = tokens.reduce((n, t) => n + codePoints(t), 0) || 1;
    let at = start;
    return tokens.map((token, k) => {
      const length = ((end - start) * codePoints(token)) / total;
      const w = { start: at, end: at + length, text: (k === 0 ? lead : " ") + token, p, seg: null, el: null };
      at += length;
      return w;
    });
  }

  function editWord(word, value) {
    const seg = word.seg;
    const tokens = clean(value).split(" ").filter(Boolean);
    if (tokens.join(" ") === word.text.trim()) { rerenderTurn(seg.turn); return; }
    const lead = /^\s/.test(word.text) ? " " : "";
    seg.words.splice(seg.words.indexOf(word), 1, ...spread(tokens, word.start, word.end, lead, 1));
    seg.edited = true;
    rerenderTurn(seg.turn);
    saveEdits();
  }

  function startWordEdit(el) {
    const word = wordOfElement.get(el);
    if (!word || el.isContentEditable) return;
    try { el.contentEditable = "plaintext-only"; } catch (_) { el.contentEditable = "true"; } // older engines lack it
    el.focus();
    getSelection().selectAllChildren(el);
    let done = false;
    const finish = (commit) => {
      if (done) return;
      done = true;
      if (commit) editWord(word, el.textContent); else rerenderTurn(word.seg.turn);
    };
    el.addEventListener("keydown", (e) => {
      if (e.key === "Enter") { e.preventDefault(); finish(true); } else if (e.key === "Escape") { e.preventDefault(); finish(false); }
    });
    el.addEventListener("blur", () => finish(true));
  }

  // Longest common subsequence of the old and new tokens: unchanged words keep their exact times, changed
  // stretches share the time of the words they replace. Common ends are trimmed first, so a typical fix of a
  // few words in a long paragraph costs little; a middle too big for the table is replaced as one stretch.
  function align(oldTokens, newTokens) {
    let head = 0;
    while (head < oldTokens.length && head < newTokens.length && oldTokens[head] === newTokens[head]) head++;
    let tail = 0;
    while (tail < oldTokens.length - head && tail < newTokens.length - head
      && oldTokens[oldTokens.length - 1 - tail] === newTokens[newTokens.length - 1 - tail]) tail++;
    const a = oldTokens.slice(head, oldTokens.length - tail), b = newTokens.slice(head, newTokens.length - tail);
    const pairs = [];
    for (let k = 0; k < head; k++) pairs.push([k, k]);
    const n = a.length, m = b.length;
    if (n && m && n * m <= 4e6) {
      const table = new Uint32Array((n + 1) * (m + 1));
      for (let i = n - 1; i >= 0; i--) {
        for (let j = m - 1; j >= 0; j--) {
          table[i * (m + 1) + j] = a[i] === b[j] ? table[(i + 1) * (m + 1) + j + 1] + 1
            : Math.max(table[(i + 1) * (m + 1) + j], table[i * (m + 1) + j + 1]);
        }
      }
      for (let i = 0, j = 0; i < n && j < m;) {
        if (a[i] === b[j]) { pairs.push([head + i, head + j]); i++; j++; }
        else if (table[(i + 1) * (m + 1) + j] >= table[i * (m + 1) + j + 1]) i++;
        else j++;
      }
    }
    for (let k = 0; k < tail; k++) pairs.push([oldTokens.length - tail + k, newTokens.length - tail + k]);
    return pairs;
  }

  function editTurn(turn, value) {
    const old = turn.segs.flatMap((seg) => seg.words.map((w) => ({ w, seg })));
    const tokens = clean(value).split(" ").filter(Boolean);
    const pairs = align(old.map((o) => o.w.text.trim()), tokens);
    const lead = old.length && !/^\s/.test(old[0].w.text) ? "" : " "; // scripts written without spaces stay so
    const placed = turn.segs.map(() => []);
    const segIndex = new Map(turn.segs.map((seg, k) => [seg, k]));
    let prevOld = -1, prevNew = -1, lastSeg = 0, lastEnd = turn.start;
    const place = (k, words) => { placed[k].push(...words); if (words.length) lastEnd = words[words.length - 1].end; };
    for (const [i, j] of [...pairs, [old.length, tokens.length]]) {
      const replaced = old.slice(prevOld + 1, i), inserted = tokens.slice(prevNew + 1, j);
      if (inserted.length) {
        const start = replaced.length ? replaced[0].w.start : lastEnd;
        const end = replaced.length ? replaced[replaced.length - 1].w.end : Math.max(i < old.length ? old[i].w.start : turn.end, start);
        const k = replaced.length ? segIndex.get(replaced[0].seg) : lastSeg;
        place(k, spread(inserted, start, end, lead, 1));
        lastSeg = k;
      }
      if (i < old.length) {
        const { w, seg } = old[i];
        lastSeg = segIndex.get(seg);
        place(lastSeg, [w]);
      }
      prevOld = i; prevNew = j;
    }
    turn.segs.forEach((seg, k) => {
      const before = seg.words.map((w) => `${w.start}|${w.end}|${w.text}`).join("\n");
      const after = placed[k].map((w) => `${w.start}|${w.end}|${w.text}`).join("\n");
      if (before !== after) { seg.words = placed[k]; seg.edited = true; }
    });
    rerenderTurn(turn);
    saveEdits();
  }

  function startTurnEdit(article) {
    const turn = turns[Number(article.dataset.turn)];
    const p = article.querySelector(".text");
    const editor = document.createElement("div");
    editor.innerHTML = `<textarea class="editor" aria-label="Paragraph text"></textarea><div class="editor-actions">`
      + `<button type="button" data-act="save">Save</button><button type="button" data-act="cancel">Cancel</button></div>`;
    const area = editor.querySelector("textarea");
    area.value = turn.segs.flatMap((s) => s.words.map((w) => w.text)).join("").trim();
    p.replaceWith(editor);
    area.focus();
    const finish = (commit) => (commit ? editTurn(turn, area.value) : rerenderTurn(turn));
    editor.addEventListener("click", (e) => {
      const act = e.target.closest("button")?.dataset.act;
      if (act) finish(act === "save");
    });
    area.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); finish(true); }
      else if (e.key === "Escape") { e.preventDefault(); finish(false); }
    });
  }

  // ---- search -----------------------------------------------------------------------------------------------------
  let searchIndex = null; // lower-cased words joined by single spaces, and where each word begins
  let matches = []; // [first word, last word] in document order
  let matchAt = -1;

  function buildSearchIndex() {
    const offsets = new Int32Array(flat.length);
    const parts = [];
    let pos = 0;
    flat.forEach((w, k) => {
      const t = w.text.trim().toLowerCase();
      offsets[k] = pos;
      parts.push(t);
      pos += t.length + 1;
    });
    return { text: parts.join(" "), offsets };
  }

  function wordOfOffset(offset) {
    const o = searchIndex.offsets;
    let lo = 0, hi = o.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (o[mid] <= offset) lo = mid + 1; else hi = mid; }
    return lo - 1;
  }

  function clearSearch(resetCount = true) {
    for (const [a, b] of matches) for (let k = a; k <= b; k++) flat[k]?.el?.classList.remove("match", "match-current");
    matches = [];
    matchAt = -1;
    if (resetCount) $("search-count").textContent = "";
  }

  function runSearch() {
    const query = clean($("search-input").value).toLowerCase();
    clearSearch();
    if (!query) return;
    searchIndex = searchIndex || buildSearchIndex();
    const { text } = searchIndex;
    for (let at = text.indexOf(query); at !== -1; at = text.indexOf(query, at + query.length)) {
      matches.push([wordOfOffset(at), wordOfOffset(at + query.length - 1)]);
    }
    for (const [a, b] of matches) for (let k = a; k <= b; k++) flat[k].el.classList.add("match");
    const n = matches.length;
    $("search-count").textContent = n ? `${n} match${n === 1 ? "" : "es"}` : "no matches";
  }

  function gotoMatch(step) {
    if (!matches.length) return;
    if (matchAt >= 0) { const [a, b] = matches[matchAt]; for (let k = a; k <= b; k++) flat[k].el.classList.remove("match-current"); }
    matchAt = (matchAt + step + matches.length) % matches.length;
    const [a, b] = matches[matchAt];
    for (let k = a; k <= b; k++) flat[k].el.classList.add("match-current");
    flat[a].el.scrollIntoView({ block: "center" });
    $("search-count").textContent = `${matchAt + 1} of ${matches.length}`;
  }

  // ---- wiring -----------------------------------------------------------------------------------------------------
  const isTyping = (el) => el instanceof HTMLElement && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));

  document.addEventListener("click", (e) => {
    const target = e.target;
    if (!(target instanceof Element)) return;
    const word = target.closest(".w");
    if (word && !word.isContentEditable) { const w = wordOfElement.get(word); if (w) seek(w.start); return; }
    const speaker = target.closest("button.speaker[data-speaker]");
    if (speaker) { startRename(speaker); return; }
    const tc = target.closest(".tc");
    if (tc) { seek(Number(tc.dataset.seek)); return; }
    const edit = target.closest(".edit-turn");
    if (edit) { startTurnEdit(edit.closest(".turn")); return; }
    const exportButton = target.closest("[data-export]");
    if (exportButton) download(exportButton.dataset.export);
  });
  transcriptEl.addEventListener("dblclick", (e) => {
    const word = e.target instanceof Element && e.target.closest(".w");
    if (word) startWordEdit(word);
  });
  timeline.addEventListener("click", (e) => {
    const rect = e.currentTarget.getBoundingClientRect();
    seek(((e.clientX - rect.left) / rect.width) * totalTime());
  });
  document.addEventListener("keydown", (e) => {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || isTyping(e.target)) return;
    const onControl = e.target instanceof Element && e.target.closest("button, a, label, video");
    if (e.key === " ") {
      if (onControl) return; // Space presses a focused button, as everywhere else
      e.preventDefault();
      togglePlay();
    } else if (e.key === "ArrowLeft" || e.key === "ArrowRight") {
      if (e.target instanceof Element && e.target.closest("video")) return; // the player's own controls seek
      e.preventDefault();
      seek(now() + (e.key === "ArrowRight" ? STEP_S : -STEP_S));
    }
  });
  for (const type of ["wheel", "touchmove"]) window.addEventListener(type, () => { lastUserScroll = performance.now(); }, { passive: true });

  $("media-file").addEventListener("change", (e) => {
    const file = e.target.files && e.target.files[0];
    if (!file) return;
    if (objectUrl) URL.revokeObjectURL(objectUrl);
    objectUrl = URL.createObjectURL(file);
    loadMedia(objectUrl, file.name);
  });
  const drop = $("drop");
  const carriesFiles = (e) => e.dataTransfer && Array.from(e.dataTransfer.types || []).includes("Files");
  window.addEventListener("dragover", (e) => { if (carriesFiles(e)) { e.preventDefault(); drop.hidden = false; } });
  drop.addEventListener("dragleave", () => { drop.hidden = true; });
  window.addEventListener("drop", (e) => {
    if (!carriesFiles(e)) return;
    e.preventDefault();
    drop.hidden = true;
    const file = e.dataTransfer.files[0];
    if (!file) return;
    if (objectUrl) URL.revokeObjectURL(objectUrl);
    objectUrl = URL.createObjectURL(file);
    loadMedia(objectUrl, file.name);
  });

  $("search").addEventListener("submit", (e) => { e.preventDefault(); gotoMatch(1); });
  $("search-prev").addEventListener("click", () => gotoMatch(-1));
  $("search-input").addEventListener("input", runSearch);
  $("search-input").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && e.shiftKey) { e.preventDefault(); gotoMatch(-1); }
  });
  $("discard").addEventListener("click", () => {
    if (!confirm("Discard every edit of this transcript saved in this browser?")) return;
    try { localStorage.removeItem(STORAGE_KEY); } catch (_) { /* nothing saved to remove */ }
    location.reload();
  });

  // ---- start ------------------------------------------------------------------------------------------------------
  const scriptStart = performance.now();
  loadEdits();
  renderHeader();
  renderTranscript();
  renderTimeline();
  showEditState();
  const params = new URLSearchParams(location.search);
  const fragment = new URLSearchParams(location.hash.slice(1)); // a presigned page URL cannot take a query param
  const linked = params.get("media") || fragment.get("media");
  if (linked) {
    const last = linked.split("?")[0].split("/").pop() || "";
    let label = last;
    try { label = decodeURIComponent(last); } catch (_) { /* a name that is not percent-encoded is shown as is */ }
    loadMedia(linked, label);
  }
  window.scribefleetPage = { words: flat.length, scriptMs: performance.now() - scriptStart, renderMs: null };
  // Ready after the first frame with the transcript on screen: what a person waits for when opening the file.
  requestAnimationFrame(() => setTimeout(() => {
    window.scribefleetPage.renderMs = performance.now();
    root.dataset.ready = "true";
  }, 0));
})();
