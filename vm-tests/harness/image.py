# SPDX-License-Identifier: BSD-2-Clause
"""Image lookup, format detection, and the throw-away disks the VM uses.

Lookup order: ``--image PATH``, then ``$FREEBSD_IMAGE``, then the fetch-image
cache (``--cache``/``$KQDAFS_IMAGE_CACHE``/``~/.cache/kqdafs/vm-images``),
where only images with a ``.verified`` marker written by ``fetch-image``
count.  An explicitly named image that does not exist is an error, not a
skip.

The original image is never written: QEMU boots a qcow2 overlay
(``qemu-img create -f qcow2 -F <fmt> -b <abs image> overlay.qcow2``); bhyve
boots a raw copy (``qemu-img convert -O raw``, or a sparse copy of a raw
image when qemu-img is missing).
"""

import json
import os
import shutil
import subprocess

from . import pins

QCOW2_MAGIC = b"QFI\xfb"


class ImageError(Exception):
    pass


def default_cache_dir():
    env = os.environ.get("KQDAFS_IMAGE_CACHE")
    if env:
        return env
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(
        os.path.expanduser("~"), ".cache")
    return os.path.join(xdg, "kqdafs", "vm-images")


def marker_path(image_path):
    return image_path + ".verified"


def cached_image(cache_dir=None, release=pins.DEFAULT_RELEASE):
    """Path of the verified cached image, or None."""
    d = cache_dir or default_cache_dir()
    p = os.path.join(d, pins.image_name(release))
    if os.path.isfile(p) and os.path.isfile(marker_path(p)):
        try:
            with open(marker_path(p)) as f:
                info = json.load(f)
        except (OSError, ValueError):
            return None
        if info.get("verified") is True:
            return p
    return None


def find_image(option=None, env=None, cache_dir=None,
               release=pins.DEFAULT_RELEASE):
    """Return (path, source) or (None, None) when there is no image.
    Raises ImageError when an explicitly named image does not exist."""
    if env is None:
        env = os.environ.get("FREEBSD_IMAGE", "")
    for value, source in ((option, "--image"), (env, "FREEBSD_IMAGE")):
        if value:
            if not os.path.isfile(value):
                raise ImageError("%s names %s, which does not exist"
                                 % (source, value))
            return os.path.abspath(value), source
    p = cached_image(cache_dir, release)
    if p:
        return p, "cache"
    return None, None


def detect_format(path, qemu_img="qemu-img"):
    """'qcow2' or 'raw'.  Uses ``qemu-img info --output=json`` when
    available, else the qcow2 magic bytes."""
    exe = shutil.which(qemu_img)
    if exe:
        p = subprocess.run([exe, "info", "--output=json", path],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
        if p.returncode == 0:
            try:
                fmt = json.loads(p.stdout).get("format")
            except ValueError:
                fmt = None
            if fmt in ("qcow2", "raw"):
                return fmt
            if fmt:
                raise ImageError("unsupported image format %r for %s"
                                 % (fmt, path))
    with open(path, "rb") as f:
        magic = f.read(4)
    return "qcow2" if magic == QCOW2_MAGIC else "raw"


def create_overlay(image, overlay, fmt=None, qemu_img="qemu-img"):
    """qcow2 overlay backed by the (absolute) original image."""
    exe = shutil.which(qemu_img)
    if not exe:
        raise ImageError("qemu-img not found (apt-get install qemu-utils)")
    image = os.path.abspath(image)
    fmt = fmt or detect_format(image, qemu_img)
    if os.path.exists(overlay):
        os.unlink(overlay)
    p = subprocess.run([exe, "create", "-q", "-f", "qcow2", "-F", fmt,
                        "-b", image, overlay],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True)
    if p.returncode != 0:
        raise ImageError("qemu-img create overlay failed: %s"
                         % p.stderr.strip())
    return overlay


def prepare_raw(image, out, fmt=None, qemu_img="qemu-img"):
    """A raw copy of ``image`` for bhyve."""
    fmt = fmt or detect_format(image, qemu_img)
    exe = shutil.which(qemu_img)
    if exe:
        p = subprocess.run([exe, "convert", "-f", fmt, "-O", "raw",
                            image, out], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
        if p.returncode != 0:
            raise ImageError("qemu-img convert failed: %s" % p.stderr.strip())
        return out
    if fmt != "raw":
        raise ImageError("bhyve needs a raw disk: install qemu-img "
                         "(pkg install qemu-tools) or pass a raw image")
    sparse_copy(image, out)
    return out


def sparse_copy(src, dst, block=1 << 20):
    zero = bytes(block)
    with open(src, "rb") as fi, open(dst, "wb") as fo:
        while True:
            b = fi.read(block)
            if not b:
                break
            if b == zero[:len(b)]:
                fo.seek(len(b), os.SEEK_CUR)
            else:
                fo.write(b)
        fo.truncate()
