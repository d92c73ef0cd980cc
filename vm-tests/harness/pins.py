# SPDX-License-Identifier: BSD-2-Clause
"""Pinned FreeBSD VM images: the ONE place for names, URLs and checksums.

``sha256`` is the SHA256 of the *compressed* ``.qcow2.xz`` file exactly as
published in the release's CHECKSUM.SHA256 file.

PLACEHOLDER pins: this file was written on a machine that cannot reach
download.freebsd.org, so the real checksum could not be recorded.  While a
pin is PLACEHOLDER, ``vm-tests/fetch-image`` downloads CHECKSUM.SHA256 from
the same directory (HTTPS) and verifies against it, then prints the line to
paste here.  Fill the pin in the first time the image is fetched on a
networked machine (and commit it); from then on the download is verified
against the pin and a changed upstream file is refused.
"""

PLACEHOLDER = "PLACEHOLDER"

BASE_URL = "https://download.freebsd.org/releases/VM-IMAGES"
DEFAULT_RELEASE = "15.0"

RELEASES = {
    "15.0": {
        "sha256": PLACEHOLDER,
    },
}


def image_name(release):
    """Decompressed image file name, e.g.
    FreeBSD-15.0-RELEASE-amd64-BASIC-CLOUDINIT-ufs.qcow2"""
    return "FreeBSD-%s-RELEASE-amd64-BASIC-CLOUDINIT-ufs.qcow2" % release


def xz_name(release):
    return image_name(release) + ".xz"


def dir_url(release, base_url=BASE_URL):
    return "%s/%s-RELEASE/amd64/Latest" % (base_url.rstrip("/"), release)


def image_url(release, base_url=BASE_URL):
    return "%s/%s" % (dir_url(release, base_url), xz_name(release))


def checksum_url(release, base_url=BASE_URL):
    return "%s/CHECKSUM.SHA256" % dir_url(release, base_url)


def pinned_sha256(release):
    """The pinned hex digest, or None when the pin is a placeholder or the
    release is not listed."""
    v = RELEASES.get(release, {}).get("sha256", PLACEHOLDER)
    if not v or v == PLACEHOLDER:
        return None
    return v.lower()
