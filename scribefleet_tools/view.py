"""`scribefleet view PROCESS_ID`: open a completed job's transcript page, with its media playing along.

    scribefleet view alice-meeting-1a2b3c            # the local stack
    scribefleet view alice-meeting-1a2b3c --stack-name scribefleet-prod --no-open

The page is the job's `html` output when it asked for one, otherwise it is built here from result.json (every
completed job has it) with the job's own options, so any completed job can be viewed. A small HTTP server on
127.0.0.1 serves that one page; the media is linked straight from the input bucket by a presigned URL (the page
plays it with a plain <video> element, which needs no CORS), so nothing large passes through this process.
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
import webbrowser
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote, urlsplit

from gpu_worker.formats.html import render_page
from gpu_worker.result import TranscriptResult
from scribefleet.contract import JobField, JobStatus, output_prefix, output_stem

# A presigned link lasts a working day, long enough to listen to a 3-hour file; signed with role or SSO credentials it
# ends with their session instead (S3 User Guide, "Sharing objects with presigned URLs").
MEDIA_LINK_SECONDS = 12 * 3600


@dataclass(frozen=True)
class TranscriptPage:
    html: bytes
    title: str
    media_url: str | None


class ViewError(Exception):
    """Why a job's page cannot be shown (not completed, not found); said to the user as is."""


def _split_s3_uri(uri: str) -> tuple[str, str]:
    parts = urlsplit(uri)
    return parts.netloc, parts.path.lstrip("/")


def transcript_page(target: Any, pid: str, job: dict[str, Any]) -> TranscriptPage:
    """The job's page and a link to its media, from the stack's buckets (target: scribefleet_tools.target.Target)."""
    if job.get(JobField.STATUS) != JobStatus.COMPLETED:
        raise ViewError(f"{pid} is {job.get(JobField.STATUS)}: only a completed job has a transcript to view")
    s3 = target.client("s3")
    outputs = job.get(JobField.OUTPUTS) or {}
    title = output_stem(str(job.get(JobField.FILE_NAME) or "transcript"))
    if "html" in outputs:
        bucket, key = _split_s3_uri(outputs["html"])
        html = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    else:
        if "result" in outputs:
            bucket, key = _split_s3_uri(outputs["result"])
        else:
            bucket = target.outputs["OutputBucketName"]
            key = output_prefix(job[JobField.USER_ID], job[JobField.TRANSCRIPT_ID]) + "result.json"
        summary = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        fields = TranscriptResult.__dataclass_fields__
        result = TranscriptResult.from_dict({k: v for k, v in summary.items() if k in fields})
        options = job.get(JobField.OPTIONS) or "{}"
        html = render_page(result, json.loads(options) if isinstance(options, str) else dict(options), title).encode()
    return TranscriptPage(html, title, _media_url(s3, job))


def _media_url(s3: Any, job: dict[str, Any]) -> str | None:
    bucket, key = job.get(JobField.INPUT_BUCKET), job.get(JobField.INPUT_KEY)
    if not bucket or not key:
        return None
    params = {"Bucket": bucket, "Key": key}
    if job.get(JobField.INPUT_VERSION):
        params["VersionId"] = job[JobField.INPUT_VERSION]  # the version that was transcribed, not a later upload
    return s3.generate_presigned_url("get_object", Params=params, ExpiresIn=MEDIA_LINK_SECONDS)


class PageServer(ThreadingHTTPServer):
    """Serves one page at / on 127.0.0.1 only: the transcript is private, the network sees nothing."""

    daemon_threads = True

    def __init__(self, page: TranscriptPage, port: int = 0) -> None:
        self.page = page
        super().__init__(("127.0.0.1", port), _PageHandler)

    @property
    def url(self) -> str:
        base = f"http://127.0.0.1:{self.server_address[1]}/"
        # In the fragment, not the query: a fragment is never sent to the server, in a request line or a Referer
        return base + (f"#media={quote(self.page.media_url, safe='')}" if self.page.media_url else "")


class _PageHandler(BaseHTTPRequestHandler):
    server: PageServer

    def do_GET(self) -> None:  # noqa: N802 (the http.server naming)
        port = self.server.server_address[1]
        if self.headers.get("Host") not in (f"127.0.0.1:{port}", f"localhost:{port}"):
            # DNS rebinding: another site's name pointed at 127.0.0.1 would otherwise let its page read this transcript
            self.send_error(HTTPStatus.MISDIRECTED_REQUEST)
            return
        if urlsplit(self.path).path not in ("/", "/index.html"):
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        body = self.server.page.html
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 — one line per request is noise here
        pass


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("id", help="process id (<userId>-<transcriptId>) of a completed job")
    parser.add_argument("--port", type=int, default=0, help="local port (default: any free one)")
    parser.add_argument("--no-open", action="store_true", help="print the URL only; do not open a browser")


def run(args: argparse.Namespace) -> int:
    from scribefleet_tools.target import job_item, resolve_target

    target = resolve_target(args)
    try:
        page = transcript_page(target, args.id, job_item(target, args.id))
    except ViewError as error:
        print(error, file=sys.stderr)
        return 1
    server = PageServer(page, args.port)
    print(server.url, flush=True)
    if not args.no_open:
        threading.Thread(target=webbrowser.open, args=(server.url,), daemon=True).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
