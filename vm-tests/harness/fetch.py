# SPDX-License-Identifier: BSD-2-Clause
"""``vm-tests/fetch-image``: download, verify and cache the pinned image.

    fetch-image [--release 15.0] [--cache DIR] [--force] [--base-url URL]

1. download ``FreeBSD-<rel>-RELEASE-amd64-BASIC-CLOUDINIT-ufs.qcow2.xz``
   from download.freebsd.org (``--base-url`` for a mirror or a file:// dir),
   hashing while it streams;
2. verify the SHA256 against the pin in ``harness/pins.py``; while the pin is
   a placeholder, against ``CHECKSUM.SHA256`` fetched from the same
   directory (and print the pin to record).  No expected digest, or a
   mismatch: the download is deleted and nothing is cached;
3. decompress (stdlib lzma) to the cache and write ``<image>.verified``,
   the marker ``vm-tests/run`` requires before it uses a cached image.

Exit status: 0 ok, 1 verification failed, 2 usage, 3 download failed
(network unreachable, HTTP error).
"""

import argparse
import hashlib
import json
import lzma
import os
import re
import sys
import time
import urllib.error
import urllib.request

from . import image, pins

CHUNK = 1 << 20


class FetchError(Exception):
    status = 3


class VerifyError(Exception):
    status = 1


def sha256_bytes(data):
    return hashlib.sha256(data).hexdigest()


def parse_checksum_file(text, filename):
    """Digest for ``filename`` from a CHECKSUM.SHA256 file: BSD style
    ``SHA256 (name) = hex`` or coreutils style ``hex  name``."""
    for line in text.splitlines():
        m = re.match(r"^SHA256 \((.+)\) = ([0-9a-fA-F]{64})\s*$", line)
        if m and m.group(1) == filename:
            return m.group(2).lower()
        m = re.match(r"^([0-9a-fA-F]{64})\s+\*?(.+?)\s*$", line)
        if m and m.group(2) == filename:
            return m.group(1).lower()
    return None


def verify_digest(actual, expected, what):
    if expected is None:
        raise VerifyError("cannot verify %s: no pinned SHA256 and no "
                          "CHECKSUM.SHA256 entry; refusing to use it" % what)
    if actual.lower() != expected.lower():
        raise VerifyError("SHA256 mismatch for %s: got %s, expected %s; "
                          "refusing to use it" % (what, actual, expected))
    return True


def _open(url, timeout):
    try:
        return urllib.request.urlopen(url, timeout=timeout)
    except urllib.error.HTTPError as e:
        raise FetchError("download of %s failed: HTTP %s %s"
                         % (url, e.code, e.reason))
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise FetchError("cannot download %s: %s (network unreachable? "
                         "this machine may have no route to "
                         "download.freebsd.org)" % (url, reason))


def download(url, dest, timeout=60, progress=None):
    """Stream ``url`` to ``dest``; return its SHA256 hex digest."""
    h = hashlib.sha256()
    resp = _open(url, timeout)
    total = int(resp.headers.get("Content-Length") or 0) if hasattr(
        resp, "headers") and resp.headers else 0
    done = 0
    last = time.monotonic()
    try:
        with resp, open(dest, "wb") as f:
            while True:
                try:
                    b = resp.read(CHUNK)
                except OSError as e:
                    raise FetchError("download of %s interrupted: %s"
                                     % (url, e))
                if not b:
                    break
                h.update(b)
                f.write(b)
                done += len(b)
                if progress and time.monotonic() - last > 5:
                    last = time.monotonic()
                    progress("  %d MiB%s" % (done >> 20, (" of %d MiB" % (
                        total >> 20)) if total else ""))
    except BaseException:
        _rm(dest)
        raise
    return h.hexdigest()


def fetch_text(url, timeout=60):
    with _open(url, timeout) as r:
        return r.read().decode("utf-8", "replace")


def decompress_xz(src, dst):
    with lzma.open(src, "rb") as fi, open(dst, "wb") as fo:
        while True:
            b = fi.read(CHUNK)
            if not b:
                break
            fo.write(b)


def fetch(release=pins.DEFAULT_RELEASE, cache_dir=None,
          base_url=pins.BASE_URL, force=False, log=print, timeout=60,
          pin=None):
    """Fetch + verify + cache; return the cached image path."""
    cache_dir = cache_dir or image.default_cache_dir()
    os.makedirs(cache_dir, exist_ok=True)
    final = os.path.join(cache_dir, pins.image_name(release))
    if not force and image.cached_image(cache_dir, release):
        log("fetch-image: already cached and verified: %s" % final)
        return final
    xz_url = pins.image_url(release, base_url)
    ck_url = pins.checksum_url(release, base_url)
    part_xz = os.path.join(cache_dir, pins.xz_name(release) + ".part")
    part_img = final + ".part"
    expected = pin if pin is not None else pins.pinned_sha256(release)
    source = "pin in vm-tests/harness/pins.py"
    log("fetch-image: downloading %s" % xz_url)
    digest = download(xz_url, part_xz, timeout, progress=log)
    try:
        if expected is None:
            log("fetch-image: SHA256 pin for %s is a placeholder; verifying "
                "against %s" % (release, ck_url))
            try:
                expected = parse_checksum_file(fetch_text(ck_url, timeout),
                                               pins.xz_name(release))
            except FetchError as e:
                raise VerifyError("cannot verify the image: %s" % e)
            source = ck_url
        verify_digest(digest, expected, pins.xz_name(release))
        log("fetch-image: SHA256 %s verified (%s)" % (digest, source))
        log("fetch-image: decompressing to %s" % final)
        decompress_xz(part_xz, part_img)
        os.replace(part_img, final)
        with open(image.marker_path(final), "w") as f:
            json.dump({"verified": True, "sha256_xz": digest,
                       "verified_against": source, "url": xz_url,
                       "release": release,
                       "time": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                             time.gmtime())}, f, indent=1)
    except BaseException:
        _rm(part_img)
        raise
    finally:
        _rm(part_xz)
    if pins.pinned_sha256(release) is None and pin is None:
        log("fetch-image: record the pin: in vm-tests/harness/pins.py set "
            "RELEASES[%r]['sha256'] = %r" % (release, digest))
    return final


def _rm(p):
    try:
        os.unlink(p)
    except FileNotFoundError:
        pass


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="fetch-image",
        description="Download, verify and cache the pinned FreeBSD "
                    "BASIC-CLOUDINIT ufs qcow2 image.")
    ap.add_argument("--release", default=pins.DEFAULT_RELEASE)
    ap.add_argument("--cache", default=None,
                    help="cache dir (default ~/.cache/kqdafs/vm-images)")
    ap.add_argument("--base-url", default=pins.BASE_URL,
                    help="mirror of .../VM-IMAGES (file:// works)")
    ap.add_argument("--force", action="store_true",
                    help="download again even if cached")
    ap.add_argument("--timeout", type=float, default=60.0)
    a = ap.parse_args(argv)
    try:
        p = fetch(a.release, a.cache, a.base_url, a.force, timeout=a.timeout)
    except (FetchError, VerifyError) as e:
        print("fetch-image: ERROR: %s" % e, file=sys.stderr)
        return e.status
    except KeyboardInterrupt:
        return 130
    print(p)
    return 0
