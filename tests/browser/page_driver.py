"""Opening the transcript page and using it the way a person does: buttons, keys, downloads."""
from __future__ import annotations

from pathlib import Path

from gpu_worker.formats.common import segment_words
from gpu_worker.formats.html import write_html
from gpu_worker.result import TranscriptResult, Word

# Installed on a page, records every word that becomes the current one: [word index, media time, paused], so a test
# or the benchmark reads how far the highlight trails playback.
RECORD_HIGHLIGHTS = """() => {
  const words = Array.from(document.getElementsByClassName("w"));
  const media = document.getElementById("media");
  window.highlights = [];
  new MutationObserver((records) => {
    for (const r of records) {
      const was = (r.oldValue || "").split(" ").includes("current");
      if (!was && r.target.classList.contains("current")) {
        window.highlights.push([words.indexOf(r.target), media.currentTime, media.paused]);
      }
    }
  }).observe(document.getElementById("transcript"),
             {subtree: true, attributes: true, attributeFilter: ["class"], attributeOldValue: true});
}"""


def write_page(result: TranscriptResult, directory: Path, title: str = "interview take 1", **options) -> Path:
    """The page as the worker writes it, into directory/page.html."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "page.html"
    write_html(result, path, options, title)
    return path


def open_page(context, path: Path, query: str = ""):
    """A new tab on the page; returns once the transcript is rendered (the page sets html[data-ready])."""
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors
    page.goto(path.as_uri() + query)
    page.wait_for_selector("html[data-ready=true]")
    return page


def export(page, fmt: str) -> str:
    """Press the page's export button and read the file it downloads."""
    with page.expect_download() as download:
        page.click(f"[data-export={fmt}]")
    return Path(download.value.path()).read_text(encoding="utf-8")


def flat_words(result: TranscriptResult) -> list[Word]:
    """Words in the page's reading order (what `.w` elements are, one by one)."""
    return [w for s in result.segments for w in segment_words(s)]


def until(page, condition: str, arg=None, timeout: float = 30_000) -> None:
    """Wait until the JS `condition` holds, with `media` (the page's player) and `arg` in scope.

    Passed as a function, not an expression string: the page's Content-Security-Policy forbids eval, which is
    how Playwright evaluates expression strings.
    """
    page.wait_for_function(f"(arg) => {{ const media = document.getElementById('media'); return ({condition}); }}",
                           arg=arg, timeout=timeout)
