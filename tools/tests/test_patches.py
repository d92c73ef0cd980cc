# SPDX-License-Identifier: BSD-2-Clause
"""patches/*.patch are well-formed unified diffs that `git apply` accepts.

No FreeBSD source is committed here, so the patches cannot be applied to
the real files in a test.  What can be checked without them:

- every hunk header's line counts match the hunk's body (a hand-edited
  hunk with a wrong count is refused by `git apply` and mis-applied by
  some `patch` versions);
- the preimage each hunk describes (its context and `-` lines, at the
  line its header names) is something `git apply --check` applies the
  patch to, with no fuzz: this is the same check as against a real tree,
  with the tree rebuilt from the patch itself;
- the kern_event.c hunk carries the FreeBSD 15 context (issue 9 item 20):
  not the pre-2017 `XXX - ensure not KN_INFLUX??` comment, which made the
  patch apply only with fuzz.
"""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PATCHES = os.path.join(TOP, "patches")
HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def patch_files():
    return sorted(os.path.join(PATCHES, n) for n in os.listdir(PATCHES) if n.endswith(".patch"))


def parse(text):
    """[(old_path, new_path, [hunk])], hunk = dict(old_start, old_len,
    new_start, new_len, lines).  Raises ValueError on a malformed diff."""
    files = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
            old = line[4:].split("\t")[0]
            new = lines[i + 1][4:].split("\t")[0]
            hunks = []
            files.append((old, new, hunks))
            i += 2
            while i < len(lines) and lines[i].startswith("@@"):
                m = HUNK.match(lines[i])
                if not m:
                    raise ValueError(f"line {i + 1}: bad hunk header {lines[i]!r}")
                old_start, old_len, new_start, new_len = (
                    int(m.group(1)),
                    int(m.group(2) or 1),
                    int(m.group(3)),
                    int(m.group(4) or 1),
                )
                header_line = i + 1
                i += 1
                body = []
                seen_old = seen_new = 0
                while i < len(lines) and (seen_old < old_len or seen_new < new_len):
                    b = lines[i]
                    if b.startswith("\\"):  # "\ No newline at end of file"
                        i += 1
                        continue
                    tag = b[:1]
                    if tag == " ":
                        seen_old += 1
                        seen_new += 1
                    elif tag == "-":
                        seen_old += 1
                    elif tag == "+":
                        seen_new += 1
                    else:
                        raise ValueError(
                            f"line {i + 1}: hunk at line {header_line} ends early "
                            f"({seen_old}/{old_len} old, {seen_new}/{new_len} new lines): {b!r}"
                        )
                    body.append(b)
                    i += 1
                if seen_old != old_len or seen_new != new_len:
                    raise ValueError(f"hunk at line {header_line}: body has {seen_old} old and {seen_new} new lines")
                hunks.append(dict(old_start=old_start, old_len=old_len, new_start=new_start, new_len=new_len, lines=body))
            # Anything but another file header or the end after the last
            # hunk means a count was too small.
            if i < len(lines) and lines[i] and not lines[i].startswith(("--- ", "diff ")):
                raise ValueError(f"line {i + 1}: text after the last hunk: {lines[i]!r}")
            continue
        i += 1
    return files


def preimage(hunks):
    """The file content each hunk describes: its old lines at old_start,
    filler lines elsewhere."""
    out = []
    for h in hunks:
        while len(out) < h["old_start"] - 1:
            out.append(f"/* filler line {len(out) + 1} */")
        out.extend(l[1:] for l in h["lines"] if l[:1] in (" ", "-"))
    out.append("/* end */")
    return "\n".join(out) + "\n"


class ParseTest(unittest.TestCase):
    GOOD = "intro\n--- a/f.c\n+++ b/f.c\n@@ -2,3 +2,4 @@\n a\n-b\n+B\n+C\n c\n"

    def test_good_hunk(self):
        [(old, new, [h])] = parse(self.GOOD)
        self.assertEqual((old, new), ("a/f.c", "b/f.c"))
        self.assertEqual((h["old_start"], h["old_len"], h["new_len"]), (2, 3, 4))
        self.assertEqual(preimage([h]), "/* filler line 1 */\na\nb\nc\n/* end */\n")

    def test_count_too_large(self):
        with self.assertRaisesRegex(ValueError, "ends early|body has"):
            parse(self.GOOD.replace("+2,4", "+2,5"))

    def test_count_too_small(self):
        with self.assertRaisesRegex(ValueError, "after the last hunk"):
            parse(self.GOOD.replace("-2,3", "-2,2").replace("+2,4", "+2,3"))

    def test_bad_header(self):
        with self.assertRaisesRegex(ValueError, "bad hunk header"):
            parse(self.GOOD.replace("@@ -2,3 +2,4 @@", "@@ -2,3 @@"))


class PatchesTest(unittest.TestCase):
    def test_there_are_patches(self):
        self.assertTrue(patch_files(), "no patches/*.patch")

    def test_hunks_are_consistent(self):
        for path in patch_files():
            with self.subTest(patch=os.path.basename(path)):
                with open(path) as f:
                    files = parse(f.read())
                self.assertTrue(files, "no file headers")
                for old, new, hunks in files:
                    self.assertTrue(old.startswith("a/") and new.startswith("b/"), (old, new))
                    self.assertEqual(old[2:], new[2:])
                    self.assertTrue(hunks, f"{old}: no hunks")
                    delta = 0
                    for h in hunks:
                        # Later hunks' new_start follows from the earlier ones.
                        self.assertEqual(h["new_start"], h["old_start"] + delta, f"{old}: {h['old_start']}")
                        delta += h["new_len"] - h["old_len"]

    @unittest.skipUnless(shutil.which("git"), "git not installed")
    def test_git_apply_accepts_the_patch_on_its_own_preimage(self):
        for path in patch_files():
            with self.subTest(patch=os.path.basename(path)):
                with open(path) as f:
                    files = parse(f.read())
                with tempfile.TemporaryDirectory() as tree:
                    for old, _new, hunks in files:
                        dest = os.path.join(tree, old[2:])
                        os.makedirs(os.path.dirname(dest), exist_ok=True)
                        with open(dest, "w") as f:
                            f.write(preimage(hunks))
                    p = subprocess.run(
                        ["git", "apply", "--check", "-v", path], cwd=tree, capture_output=True, text=True
                    )
                    self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_kern_event_context_is_freebsd15(self):
        path = os.path.join(PATCHES, "0001-kqueue-reserve-evfilt-kaio-rdma.patch")
        with open(path) as f:
            files = {old: hunks for old, _new, hunks in parse(f.read())}
        [hunk] = files["a/sys/kern/kern_event.c"]
        context = [l[1:] for l in hunk["lines"] if l.startswith(" ")]
        # The FreeBSD 15 text (kn_influx counter era), not the pre-2017 one.
        self.assertIn("/* XXX - ensure not influx ? */", context)
        self.assertNotIn("/* XXX - ensure not KN_INFLUX?? */", context)
        self.assertIn("#define KNOTE_ACTIVATE(kn, islock) do { \t\t\t\t\\", context)


if __name__ == "__main__":
    unittest.main()
