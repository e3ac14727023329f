# -*- coding: utf-8 -*-
"""The image store (module_utils/_images.py): fetched over real HTTP from a server on 127.0.0.1 that the test runs,
verified, kept only when the checksum matches."""

import functools
import hashlib
import http.server
import os
import socket
import threading

import pytest

from ansible_collections.hostnet.qemu.plugins.module_utils import _images
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError

CONTENT = b"QFI\xfb" + os.urandom(3 * _images.CHUNK + 17)


@pytest.fixture
def server(tmp_path_factory):
    served = tmp_path_factory.mktemp("served")
    (served / "disk.qcow2").write_bytes(CONTENT)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(served))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d" % httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def test_fetch_verified(server, tmp_path):
    store = tmp_path / "store" / "images"
    item = {"url": server + "/disk.qcow2", "checksum": "sha256:" + hashlib.sha256(CONTENT).hexdigest(),
            "path": str(store / "abc-disk.qcow2")}
    assert _images.missing([item, dict(item)]) == [item]  # one fetch per path
    _images.fetch(item, "image")
    assert (store / "abc-disk.qcow2").read_bytes() == CONTENT
    assert os.stat(item["path"]).st_mode & 0o777 == 0o644
    assert sorted(os.listdir(str(store))) == ["abc-disk.qcow2"]
    assert _images.missing([item]) == []


def test_a_wrong_checksum_leaves_nothing(server, tmp_path):
    wrong = "sha256:" + "0" * 64
    item = {"url": server + "/disk.qcow2", "checksum": wrong, "path": str(tmp_path / "x-disk.qcow2")}
    with pytest.raises(HostnetError) as err:
        _images.fetch(item, "guest 'rg9': image")
    assert str(err.value) == (
        "guest 'rg9': image: %s/disk.qcow2 does not match its checksum: %s expected, sha256:%s fetched; nothing was"
        " kept. Check the checksum (and that the URL names the file it was made for)"
        % (server, wrong, hashlib.sha256(CONTENT).hexdigest()))
    assert os.listdir(str(tmp_path)) == []
    sha512 = dict(item, checksum="sha512:" + hashlib.sha512(CONTENT).hexdigest())
    _images.fetch(sha512, "image")
    assert os.listdir(str(tmp_path)) == ["x-disk.qcow2"]


def test_unreachable_and_missing(server, tmp_path):
    item = {"url": server + "/nothing.qcow2", "checksum": "sha256:" + "0" * 64, "path": str(tmp_path / "n.qcow2")}
    with pytest.raises(HostnetError) as err:
        _images.fetch(item, "image")
    assert "image: cannot fetch %s/nothing.qcow2: HTTP Error 404" % server in str(err.value)
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    with pytest.raises(HostnetError) as err:
        _images.fetch(dict(item, url="http://127.0.0.1:%d/x.qcow2" % port), "image")
    assert "Connection refused" in str(err.value)
    assert os.listdir(str(tmp_path)) == []
