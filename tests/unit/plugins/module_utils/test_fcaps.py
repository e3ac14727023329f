# -*- coding: utf-8 -*-
"""security.capability encode/decode (revisions 1, 2, 3) and semantic comparison."""

import struct

import pytest

from ansible_collections.hostnet.qemu.plugins.module_utils import _fcaps
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError

# What `setcap cap_net_admin=ep FILE` wrote on this machine (getfattr -e hex).
SETCAP_NET_ADMIN_EP = bytes.fromhex("0100000200100000000000000000000000000000")


def test_decode_setcap_output():
    caps = _fcaps.decode(SETCAP_NET_ADMIN_EP)
    assert caps.names() == ["cap_net_admin"]
    assert caps.effective and not caps.inheritable and caps.rootid is None
    assert caps.text() == "cap_net_admin=ep"


def test_encode_matches_setcap_bytes():
    assert _fcaps.encode(_fcaps.FileCaps([12], effective=True)) == SETCAP_NET_ADMIN_EP


def test_revision3_rootid0_equals_revision2():
    blob = struct.pack("<IIIIII", 0x03000001, 1 << 12, 0, 0, 0, 0)
    assert _fcaps.decode(blob) == _fcaps.decode(SETCAP_NET_ADMIN_EP)


def test_revision3_other_rootid_differs():
    blob = struct.pack("<IIIIII", 0x03000001, 1 << 12, 0, 0, 0, 1000)
    caps = _fcaps.decode(blob)
    assert caps.rootid == 1000 and caps.names() == ["cap_net_admin"]
    assert caps != _fcaps.decode(SETCAP_NET_ADMIN_EP)
    assert "[rootid=1000]" in caps.text()


def test_revision1_and_high_caps():
    assert _fcaps.decode(struct.pack("<III", 0x01000001, 1 << 12, 0)).names() == ["cap_net_admin"]
    high = _fcaps.FileCaps([38, 39], effective=False)  # cap_perfmon, cap_bpf live in the second word
    assert _fcaps.decode(_fcaps.encode(high)) == high
    assert not _fcaps.decode(_fcaps.encode(high)).effective


def test_extra_caps_or_missing_effective_are_different():
    want = _fcaps.FileCaps([12], effective=True)
    assert _fcaps.FileCaps([12, 13], effective=True) != want
    assert _fcaps.FileCaps([12], effective=False) != want
    assert _fcaps.FileCaps([12], [12], effective=True) != want


@pytest.mark.parametrize("blob", [b"", b"\x01\x00", struct.pack("<IIIII", 0x09000000, 0, 0, 0, 0)])
def test_decode_garbage(blob):
    with pytest.raises(HostnetError):
        _fcaps.decode(blob)
