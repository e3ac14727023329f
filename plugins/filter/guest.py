# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the hostnet.qemu.guest role; the logic lives in plugins/plugin_utils/_guest.py (model) and
_guestrender.py (QEMU argv, unit, device set)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError
from ansible_collections.hostnet.qemu.plugins.plugin_utils import _cloudinit, _guest, _guestconflicts, _guestrender


def _wrap(func, *args):
    try:
        return func(*args)
    except HostnetError as exc:
        raise AnsibleFilterError(str(exc))


def guest_plan(guests, host=None, settings=None):
    """Validate and normalise a host's guest list against what the role learnt about the host."""
    return _wrap(_guest.normalise_all, guests or [], settings, host)


def guest_conflicts(plans_by_host):
    """Clashes between guests of every host: a list of messages (empty when there are none)."""
    return _wrap(_guestconflicts.conflicts, plans_by_host or {})


def guest_argv(guest):
    """The QEMU command line (a list) of a normalised guest."""
    return _wrap(_guestrender.argv, guest)


def guest_unit(guest):
    """The systemd unit text of a normalised guest."""
    return _wrap(_guestrender.unit, guest)


def guest_set(guests):
    """The guests for one hostnet.qemu.guests call: unit texts, states, disks."""
    return _wrap(_guestrender.guest_set, guests or [])


def guest_netdevs(guests):
    """The device list for one hostnet.qemu.netdevs call covering the host's guests."""
    return _wrap(_guestrender.netdevs, guests or [])


def guest_reservations(networks, guests, settings=None):
    """The network role's networks with the DHCP reservations (and DNS names) of the guests' static addresses.
    Guests that do not validate add nothing: the guest role's preflight reports them."""
    plan = _guest.normalise_lenient(guests, settings, networks)
    return networks if plan is None else _wrap(_cloudinit.reservations, networks, plan)


def guest_ports(networks, guests, settings=None):
    """The taps of the guests on the isolated and nat networks, which the network role holds to their NICs
    (hostnet.qemu.networks ports). Guests that do not validate add nothing: the guest role's preflight reports
    them."""
    plan = _guest.normalise_lenient(guests, settings, networks)
    return [] if plan is None else _wrap(_cloudinit.ports, networks, plan)


def guest_unheld(guests, networks):
    """Warnings for the normalised guests' helper NICs on networks whose taps the network role holds (they cannot
    be held)."""
    return _wrap(_cloudinit.unheld, networks or [], guests or [])


class FilterModule(object):
    def filters(self):
        return {
            "guest_plan": guest_plan,
            "guest_conflicts": guest_conflicts,
            "guest_argv": guest_argv,
            "guest_unit": guest_unit,
            "guest_netdevs": guest_netdevs,
            "guest_set": guest_set,
            "guest_reservations": guest_reservations,
            "guest_ports": guest_ports,
            "guest_unheld": guest_unheld,
        }
