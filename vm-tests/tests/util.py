import os

TESTS = os.path.dirname(os.path.abspath(__file__))
VMTESTS = os.path.dirname(TESTS)
TRANSCRIPTS = os.path.join(TESTS, "transcripts")
GUEST = os.path.join(VMTESTS, "guest")


def transcript(name):
    with open(os.path.join(TRANSCRIPTS, name), encoding="utf-8") as f:
        return f.read().splitlines()
