"""`scribefleet view`: a completed job's page served on 127.0.0.1, its media linked from the input bucket.

The buckets are a moto server (what the local stack runs), so Chromium really fetches the media through the
presigned URL, with the Range requests a player makes when seeking.
"""
from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request

import pytest
from moto.server import ThreadedMotoServer

from gpu_worker.formats import write_formats
from scribefleet.contract import JobField, JobStatus, output_prefix, output_stem
from scribefleet_tools.target import Target
from scribefleet_tools.transcript_samples import FILM_INTERVIEW, FILM_NAMES, dialogue
from scribefleet_tools.view import PageServer, ViewError, transcript_page
from tests.browser.page_driver import export, flat_words, until
from tests.support.media import wav_bytes

pytestmark = pytest.mark.browser
FILE_NAME = "Interview (take 1) é+more.wav"
USER, TRANSCRIPT = "alice", "take1"
IN, OUT = "media-in", "transcripts-out"
STEM = output_stem(FILE_NAME)  # what the worker names the outputs


@pytest.fixture(scope="module")
def stack():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    target = Target({"InputBucketName": IN, "OutputBucketName": OUT}, "local", "us-east-1", endpoint=f"http://{host}:{port}")
    s3 = target.client("s3")
    for bucket in (IN, OUT):
        s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=IN, VersioningConfiguration={"Status": "Enabled"})
    yield target
    server.stop()


@pytest.fixture(scope="module")
def transcript():
    return dialogue(FILM_INTERVIEW, FILM_NAMES)


def completed_job(target, transcript, tmp_path, formats, options=None) -> dict:
    """Upload the media and the job's outputs the way the worker does; return the job item."""
    s3 = target.client("s3")
    key = f"uploads/{USER}/{TRANSCRIPT}/{FILE_NAME}"
    version = s3.put_object(Bucket=IN, Key=key, Body=wav_bytes(transcript.duration, rate=8000))["VersionId"]
    prefix = output_prefix(USER, TRANSCRIPT)
    outputs = {}
    for fmt, path in write_formats(transcript, formats, tmp_path, STEM, options or {}).items():
        s3.upload_file(str(path), OUT, prefix + path.name)
        outputs[fmt] = f"s3://{OUT}/{prefix}{path.name}"
    outputs["result"] = f"s3://{OUT}/{prefix}result.json"
    summary = {"processId": f"{USER}-{TRANSCRIPT}", "outputs": outputs, **transcript.to_dict()}
    s3.put_object(Bucket=OUT, Key=prefix + "result.json", Body=json.dumps(summary).encode())
    return {JobField.PROCESS_ID: f"{USER}-{TRANSCRIPT}", JobField.USER_ID: USER, JobField.TRANSCRIPT_ID: TRANSCRIPT,
            JobField.STATUS: JobStatus.COMPLETED, JobField.FILE_NAME: FILE_NAME, JobField.INPUT_BUCKET: IN,
            JobField.INPUT_KEY: key, JobField.INPUT_VERSION: version, JobField.OUTPUTS: outputs,
            JobField.OPTIONS: json.dumps(options or {})}


@pytest.fixture
def served():
    servers = []

    def serve(page):
        server = PageServer(page)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


def test_view_serves_the_jobs_page_with_its_media_from_the_bucket(context, stack, transcript, tmp_path, served):
    job = completed_job(stack, transcript, tmp_path, ["html", "srt"])
    page_obj = transcript_page(stack, job[JobField.PROCESS_ID], job)
    assert page_obj.html == (tmp_path / f"{STEM}.html").read_bytes()  # the worker's own file
    server = served(page_obj)
    assert server.url.startswith("http://127.0.0.1:")

    page = context.new_page()
    page.goto(server.url)
    page.wait_for_selector("html[data-ready=true]")
    until(page, "media.readyState >= 1")
    assert page.evaluate("document.getElementById('media').duration") == pytest.approx(transcript.duration, abs=0.01)
    assert FILE_NAME in page.text_content("#media-hint")
    k = 100
    page.locator(".w").nth(k).click()
    until(page, "Math.abs(media.currentTime - arg) < 0.01 && media.readyState >= 2", flat_words(transcript)[k].start)


def test_a_job_without_an_html_output_is_viewed_from_its_result_json(context, stack, transcript, tmp_path, served):
    options = {"max_line_chars": 30, "max_lines": 1}
    job = completed_job(stack, transcript, tmp_path, ["srt"], options)
    server = served(transcript_page(stack, job[JobField.PROCESS_ID], job))
    page = context.new_page()
    page.goto(server.url)
    page.wait_for_selector("html[data-ready=true]")
    assert page.text_content("h1") == STEM == "Interview (take 1) é_more"
    # built with the job's own options: the page's subtitles are the worker's, one 30-character line per cue
    assert export(page, "srt") == (tmp_path / f"{STEM}.srt").read_text(encoding="utf-8")


def test_only_a_completed_job_can_be_viewed(stack):
    with pytest.raises(ViewError, match="IN_PROGRESS"):
        transcript_page(stack, "alice-take2", {JobField.STATUS: JobStatus.IN_PROGRESS})


def test_the_server_answers_the_page_only(stack, transcript, tmp_path, served):
    job = completed_job(stack, transcript, tmp_path, ["html"])
    server = served(transcript_page(stack, job[JobField.PROCESS_ID], job))
    base = server.url.split("#")[0]
    with urllib.request.urlopen(base) as response:
        assert response.headers["Content-Type"] == "text/html; charset=utf-8"
        assert b"interview" in response.read().lower()
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(base + "etc/passwd")
    assert missing.value.code == 404
    assert server.server_address[0] == "127.0.0.1"
    rebound = urllib.request.Request(base, headers={"Host": f"evil.example:{server.server_address[1]}"})
    with pytest.raises(urllib.error.HTTPError) as refused:  # DNS rebinding: another site's name for 127.0.0.1
        urllib.request.urlopen(rebound)
    assert refused.value.code == 421


def test_the_view_command_prints_the_url_of_the_page_it_serves(stack, transcript, tmp_path, monkeypatch, capsys):
    """`scribefleet view ID --no-open`: the CLI path, with the stack lookup pointed at the moto server."""
    from scribefleet_tools import cli, target, view

    job = completed_job(stack, transcript, tmp_path, ["html"])
    monkeypatch.setattr(target, "resolve_target", lambda args: stack)
    monkeypatch.setattr(target, "job_item", lambda _, pid: job if pid == job[JobField.PROCESS_ID] else pytest.fail(pid))
    started: list[PageServer] = []
    serving = threading.Event()

    def server_for(page, port):
        started.append(PageServer(page, port))
        serving.set()
        return started[-1]

    monkeypatch.setattr(view, "PageServer", server_for)
    exit_code: list[int] = []
    thread = threading.Thread(target=lambda: exit_code.append(cli.main(["view", job[JobField.PROCESS_ID], "--no-open"])))
    thread.start()
    try:
        assert serving.wait(30), "the view command did not start its server"
        server = started[0]
        with urllib.request.urlopen(server.url) as response:
            assert response.read() == (tmp_path / f"{STEM}.html").read_bytes()
    finally:
        for running in started:
            running.shutdown()
        thread.join(30)
    assert exit_code == [0]
    url = capsys.readouterr().out.strip()
    assert url == server.url and "#media=http" in url  # the presigned URL never travels to a server
