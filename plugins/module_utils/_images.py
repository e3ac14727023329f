# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The image store: base images fetched from a URL once, verified against their checksum, never written.

An image is streamed into a temporary file beside its place (IMAGE_DIR/<first 16 hex digits of its checksum>-<file
name>), hashed on the way, and renamed into place only when the checksum matches; otherwise the temporary file is
removed and nothing is left. A stored image is root's, 0644 (every guest user reads it; guests write only their own
overlays). An image already in its place is used as it is.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os

from ansible.module_utils.urls import open_url

from ansible_collections.hostnet.qemu.plugins.module_utils import _disks
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError

CHUNK = 1 << 20


def missing(fetches):
    """The fetches (one per path) whose image is not in the store yet."""
    seen, out = set(), []
    for fetch in fetches:
        if fetch["path"] not in seen and not _disks.exists(fetch["path"]):
            out.append(fetch)
        seen.add(fetch["path"])
    return out


def fetch(item, what, timeout=60, opener=open_url):
    """Download item['url'] to item['path'] when its checksum matches item['checksum'] (sha256:/sha512:)."""
    algorithm, _sep, want = item["checksum"].partition(":")
    path = item["path"]
    _disks.make_parents(path, what)
    tmp = os.path.join(os.path.dirname(path), ".%s.part-%d" % (os.path.basename(path), os.getpid()))
    digest = hashlib.new(algorithm)
    try:
        try:
            response = opener(item["url"], timeout=timeout)
        except Exception as exc:  # pylint: disable=broad-except  # urllib, ssl and socket errors alike
            raise HostnetError("%s: cannot fetch %s: %s; check the URL and that this host reaches it"
                               % (what, item["url"], exc))
        with open(tmp, "wb") as out:
            while True:
                chunk = response.read(CHUNK)
                if not chunk:
                    break
                digest.update(chunk)
                out.write(chunk)
        got = digest.hexdigest()
        if got != want:
            raise HostnetError("%s: %s does not match its checksum: %s:%s expected, %s:%s fetched; nothing was kept."
                               " Check the checksum (and that the URL names the file it was made for)"
                               % (what, item["url"], algorithm, want, algorithm, got))
        os.chmod(tmp, 0o644)
        os.rename(tmp, path)
    except (IOError, OSError) as exc:
        raise HostnetError("%s: cannot store %s as %s: %s" % (what, item["url"], path, getattr(exc, "strerror", exc)))
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)
