"""Dialogs for the vocabulary goal: five invented names and terms, dev dialogs the replacement rules were written
from and a test dialog they are measured on (benchmarks/bench_vocabulary.py, tests/worker/test_vocabulary_pipeline.py).

How RULES came about, so the figures mean something: the dev dialogs were transcribed by tiny.en without and with the
terms (`bench_vocabulary.py --dev` lists every name as heard), the rules were written from those misspellings only and
frozen, and only then was the test dialog (other sentences, voices in other roles) transcribed. dev-4 was the first
test dialog: once its transcripts had been seen it could no longer test rules fairly, so it joined the dev set (its
misspellings are in the rules) and a new test dialog was written.
"""
from __future__ import annotations

from gpu_worker.selftest import normalise_words

TERMS = ["Veltrista", "Quorvane", "Brannoch", "Lumidex", "Skarrow"]

DEV = {
    "dev-1": ({"A": "en-us+m3", "B": "en-gb"}, [
        ("A", "Good morning, this is Veltrista calling about the Quorvane footage."),
        ("B", "Hello Veltrista, did Brannoch finish the Lumidex grade yet?"),
        ("A", "Brannoch says the Lumidex pass is done, but Skarrow wants changes."),
        ("B", "Then send the Quorvane reel to Skarrow before lunch."),
        ("A", "I will, and Veltrista will check the sound with Brannoch."),
        ("B", "Great, Skarrow can approve the Lumidex export on Friday."),
    ]),
    "dev-2": ({"A": "en-gb", "B": "en-us+klatt4"}, [
        ("A", "Skarrow called to say the Quorvane premiere moved to June."),
        ("B", "Does Veltrista know? She booked the Lumidex suite for that week."),
        ("A", "I told Veltrista already, and Brannoch is moving the mix."),
        ("B", "Good. Keep the Quorvane trailer short, Skarrow hates long trailers."),
        ("A", "Brannoch wants a Lumidex proof by Thursday."),
        ("B", "Then Skarrow and Veltrista can review it with Brannoch."),
        ("A", "The Quorvane poster needs the Lumidex colours too."),
    ]),
    "dev-3": ({"A": "en-us+klatt4", "B": "en-us+m3"}, [
        ("A", "Lumidex sent the new colour chart this morning."),
        ("B", "Did Skarrow sign off on the Quorvane budget?"),
        ("A", "Not yet. Brannoch and Veltrista are still counting the hours."),
        ("B", "Ask Brannoch to call me when the Lumidex files arrive."),
        ("A", "Veltrista will bring the Quorvane drives to the meeting."),
        ("B", "And tell Skarrow the Lumidex invoice is late again."),
    ]),
    "dev-4": ({"A": "en-us+m3", "B": "en-gb", "C": "en-us+klatt4"}, [
        ("A", "Brannoch booked the mixing stage for the Quorvane finale."),
        ("B", "Good, because Skarrow wants to hear the new score on Monday."),
        ("C", "Veltrista asked whether the Lumidex grade will be ready by then."),
        ("A", "It should be. The Lumidex team promised Skarrow two days."),
        ("B", "Then Veltrista can screen the Quorvane cut for the producers."),
        ("C", "I will remind Brannoch to bring the Lumidex drives."),
        ("A", "And Skarrow will send the Quorvane notes to Veltrista and Brannoch."),
    ]),
}

TEST = ({"A": "en-gb", "B": "en-us+klatt4", "C": "en-us+m3"}, [
    ("A", "Veltrista found the Quorvane contract in the old office."),
    ("B", "Does Brannoch still have the Lumidex keys for the van?"),
    ("C", "No, Skarrow took them when he left on Tuesday."),
    ("A", "Then Skarrow must return them before the Quorvane shoot."),
    ("B", "I will phone Veltrista and ask about the Lumidex lenses."),
    ("C", "Brannoch says the Quorvane crew can wait until noon."),
    ("A", "Good, Veltrista and Brannoch can load the Lumidex gear with Skarrow."),
])

# Written from the dev transcripts' misspellings (without and with the terms), before the test dialog was run.
# Only spellings seen on dev are here; real names heard in place of ours ("Carol", "Rana") are left alone, as a
# careful user would, because a rule fires on every later upload of that user.
RULES = [
    {"phrase": "Mel Trista", "replacement": "Veltrista"},
    {"phrase": "melt risk", "replacement": "Veltrista"},
    {"pattern": r"(?i)\b[bm]eltrista?\b", "replacement": "Veltrista"},
    {"pattern": r"(?i)\bmeltries\b", "replacement": "Veltrista"},
    {"pattern": r"(?i)\b(?:kewormain|mcwarmain|cawarmain|warmain|corvain)\b", "replacement": "Quorvane"},
    {"pattern": r"(?i)\b(?:brenk|brannock|brenuck)\b", "replacement": "Brannoch"},
    {"pattern": r"(?i)\b(?:lumidek's|luminex)\b", "replacement": "Lumidex"},
    {"pattern": r"(?i)\b(?:rue|do) my next\b", "replacement": "Lumidex"},
    {"pattern": r"(?i)\b(?:scaro|cara|quarrow)\b", "replacement": "Skarrow"},
]


def align(reference: list[str], hypothesis: list[str]) -> list[tuple[int | None, int | None]]:
    """Levenshtein alignment of two word lists: (ref index, hyp index) pairs, None for an insertion/deletion."""
    rows, cols = len(reference) + 1, len(hypothesis) + 1
    cost = [[0] * cols for _ in range(rows)]
    for i in range(rows):
        cost[i][0] = i
    for j in range(cols):
        cost[0][j] = j
    for i in range(1, rows):
        for j in range(1, cols):
            cost[i][j] = min(cost[i - 1][j] + 1, cost[i][j - 1] + 1,
                             cost[i - 1][j - 1] + (reference[i - 1] != hypothesis[j - 1]))
    pairs, i, j = [], rows - 1, cols - 1
    while i or j:
        if i and j and cost[i][j] == cost[i - 1][j - 1] + (reference[i - 1] != hypothesis[j - 1]):
            pairs.append((i - 1, j - 1)); i -= 1; j -= 1  # noqa: E702
        elif i and cost[i][j] == cost[i - 1][j] + 1:
            pairs.append((i - 1, None)); i -= 1  # noqa: E702
        else:
            pairs.append((None, j - 1)); j -= 1  # noqa: E702
    return pairs[::-1]


def names_heard(reference: str, hypothesis: str, names: list[str] = TERMS) -> list[tuple[str, str, bool]]:
    """Per occurrence of a name in the reference: (name, what the hypothesis has there, spelled right?). "There" is
    the hypothesis words between those aligned to the name's neighbours ("" when the model dropped the name)."""
    ref, hyp = normalise_words(reference), normalise_words(hypothesis)
    wanted = {n.lower(): n for n in names}
    pairs = align(ref, hyp)
    heard = []
    for k, (i, j) in enumerate(pairs):
        if i is None or ref[i] not in wanted:
            continue
        before = next((h for _, h in reversed(pairs[:k]) if h is not None), -1)
        after = next((h for r, h in pairs[k + 1:] if h is not None and r is not None), len(hyp))
        said = hyp[j] if j is not None and hyp[j] == ref[i] else " ".join(hyp[before + 1 : after])
        heard.append((wanted[ref[i]], said, j is not None and hyp[j] == ref[i]))
    return heard


def names_right(reference: str, hypothesis: str, names: list[str] = TERMS) -> list[bool]:
    """Per name occurrence in the reference, in order: aligned to the same word, spelled right (case ignored)."""
    return [right for _, _, right in names_heard(reference, hypothesis, names)]


def name_accuracy(reference: str, hypothesis: str, names: list[str] = TERMS) -> tuple[int, int]:
    """(name occurrences spelled right, name occurrences in the reference)."""
    right = names_right(reference, hypothesis, names)
    return sum(right), len(right)
