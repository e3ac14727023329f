# -*- coding: utf-8 -*-
"""Addresses are read only in the form inet_pton(3) reads them.

netaddr before 1.0 (Debian 12's python3-netaddr 0.8, on the lab hosts and on real Debian targets and controllers)
also takes inet_aton's shorthand: '10.1' is 10.0.0.1, '10.1/24' is 10.1.0.0/24, '012.0.0.1' is an octal
10.0.0.1. The .venv's netaddr (1.x) refuses them by itself, so the entry points are also run under Debian's own
netaddr in the lab image: that is where the shorthand got through before (checked by hand on the commit before).
"""

import json
import os
import subprocess

import ansible
import pytest

from conftest import ROOT
from ansible_collections.hostnet.qemu.plugins.module_utils import _validate

SHORTHAND = ["10.1", "10.1/24", "012.0.0.1", "0x0a000001", "10.0.0.1/0x18", "10.0.0.1/+24", " 10.0.0.1/24/"]


@pytest.mark.parametrize("value", SHORTHAND + [None, 10, "", "10.0.0.256", "fe80::1%eth0"])
def test_shorthand_and_junk_are_not_literals(value):
    assert not _validate.literal(value)


@pytest.mark.parametrize("value", ["10.0.0.1", "10.0.0.0/8", "0.0.0.0/0", "2001:db8::1/64", "::", " 10.0.0.1 "])
def test_literals(value):
    assert _validate.literal(value)


ENTRY_POINTS = r"""
import json, sys
sys.path.insert(0, "/c")
sys.path.append("/site")  # ansible-core from the .venv, after Debian's own netaddr
import netaddr
from ansible_collections.hostnet.qemu.plugins.module_utils import _forwards, _guestspec, _nftnet, _validate
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError

def verdict(fn):
    try:
        return "accepted %s" % (fn(),)
    except HostnetError:
        return "refused"

out = {"netaddr": netaddr.__version__, "netaddr takes 10.1": str(netaddr.IPAddress("10.1", 4))}
out["device address"] = verdict(lambda: _validate.cidr("10.1/24"))
out["tunnel endpoint"] = verdict(lambda: _validate.ip("012.0.0.1"))
out["route"] = verdict(lambda: _validate.route("10.1/16 via 10.66.0.2"))
out["socket address"] = verdict(lambda: _guestspec._ipv4("127.1", "nics[0].localaddr"))
out["forward guest"] = "refused" if _forwards._ip("10.1") is None else "accepted"
for field, value in (("address", "10.1/24"), ("subnet", "10.1.0.0/16"), ("filter", "10.1/16")):
    net = {"name": "n", "kind": "nat" if field == "filter" else "isolated", "address": "192.168.9.1/24", "uplink": "lo"}
    net.update({field: value} if field != "filter" else {"filter": {"allow": [value]}})
    out["network " + field] = "refused" if _nftnet.check([net]) else "accepted"
print(json.dumps(out))
"""


@pytest.mark.lab
def test_entry_points_refuse_shorthand_under_debians_netaddr(lab_image):
    package = os.path.dirname(os.path.abspath(ansible.__file__))  # ansible-core of the .venv (the lab has none)
    proc = subprocess.run(["podman", "run", "--rm", "--network=none",
                           "-v", "%s:/c/ansible_collections/hostnet/qemu:ro" % ROOT,
                           "-v", "%s:/site/ansible:ro" % package,
                           lab_image, "python3", "-c", ENTRY_POINTS], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    assert found.pop("netaddr").startswith("0."), "the lab image should carry Debian 12's netaddr 0.8"
    assert found.pop("netaddr takes 10.1") == "10.0.0.1"  # the shorthand this guards against
    assert found == dict((k, "refused") for k in found) and len(found) == 8, found
