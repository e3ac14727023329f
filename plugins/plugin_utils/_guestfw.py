# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A guest's firmware and boot order (the guest role's model, like _guest.py: nothing here touches the host).

- `firmware: bios` is QEMU's SeaBIOS. `uefi` is OVMF from the distribution's package: its code image read-only,
  and a per-guest copy of the variable store (STATE_DIR/NAME/OVMF_VARS.fd) that the guests module makes from the
  package's template when it is missing, keeps across restarts and removes only with `remove_disks`.
- `secure_boot: true` takes the secure-boot code image (SMM on) and the variable store with Microsoft's keys
  enrolled; it needs `firmware: uefi`.
- `tpm: true` gives a TPM 2.0 (CRB) through swtpm, which a companion unit (hostnet-swtpm-NAME.service) runs as the
  guest's user; the guest unit requires it. Its state (STATE_DIR/NAME/tpm) survives restarts and goes only with
  `remove_disks`, like the UEFI variables.
- `boot` is the boot order (disk, cdrom, network, in that order of preference), given to the firmware as QEMU's
  `bootindex` of the first disk (a virtio one), the CD-ROM and the first NIC, which SeaBIOS and OVMF both follow.
  Unset, the first disk is the boot device (unless the guest boots a kernel directly). OVMF then boots that disk
  also when its variable store holds entries of devices that have since changed.
- `display: vnc` adds a graphics card (`video`: VGA or virtio-gpu) and a VNC server: on the guest's own Unix socket
  (RUN_DIR/NAME/vnc.sock, reachable by root and the guest's user) by default, or on an address and port. VNC has
  no authentication here, so an address other than loopback is refused unless `vnc.public: true` says so.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError


def _fail(guest, field, problem, fix):
    raise HostnetError("guest '%s': %s: %s; %s" % (guest, field, problem, fix))


def firmware(spec, settings, host, strict):
    """{'firmware', 'secure_boot', 'ovmf': None or {'code', 'template', 'vars'}} of a validated guest spec."""
    name, kind, secure = spec["name"], spec["firmware"], spec["secure_boot"]
    if secure and kind != "uefi":
        _fail(name, "secure_boot", "secure boot needs UEFI firmware, and this guest has firmware: %s" % kind,
              "set firmware: uefi, or drop secure_boot")
    if kind != "uefi":
        return {"firmware": kind, "secure_boot": False, "ovmf": None}
    code = settings["ovmf_secure_code"] if secure else settings["ovmf_code"]
    template = settings["ovmf_secure_vars"] if secure else settings["ovmf_vars"]
    files = host.get("files")
    if strict and files is not None and not host.get("installs_firmware"):
        for what, path, setting in (("code", code, "code"), ("variable store template", template, "vars")):
            if not files.get(path):
                _fail(name, "firmware", "UEFI needs OVMF, and its %s '%s' does not exist on this host" % (what, path),
                      "install the ovmf package (hostnet_guest_install_packages: true does), or set "
                      "hostnet_guest_ovmf_%s%s to where it is" % ("secure_" if secure else "", setting))
    return {"firmware": kind, "secure_boot": secure,
            "ovmf": {"code": code, "template": template, "vars": "%s/%s/OVMF_VARS.fd" % (settings["state_dir"], name)}}


def boot_order(spec, guest):
    """{device: bootindex} for the guest's `boot` list; by default the first disk, unless a kernel boots directly."""
    order = spec.get("boot")
    if not order:
        return {"disk": 0} if guest.get("disks") and not guest.get("kernel") else {}
    seen = set()
    for index, device in enumerate(order):
        if device in seen:
            _fail(guest["name"], "boot[%d]" % index, "%s is listed twice" % device, "list each boot device once")
        seen.add(device)
    if "cdrom" in seen and not guest.get("cdrom"):
        _fail(guest["name"], "boot", "cdrom is listed, and the guest has no cdrom", "set cdrom, or drop it from boot")
    if "disk" in seen and not guest.get("disks"):
        _fail(guest["name"], "boot", "disk is listed, and the guest has no disks", "add a disk, or drop it from boot")
    if "network" in seen and not guest.get("nics"):
        _fail(guest["name"], "boot", "network is listed, and the guest has no NICs", "add a NIC, or drop it from boot")
    if "disk" in seen and guest["disks"][0]["interface"] != "virtio":
        _fail(guest["name"], "boot", "disk is listed, and the first disk's interface is %s" % guest["disks"][0]["interface"],
              "boot from a virtio disk (the firmware is told its boot index), or drop disk from boot")
    return dict((device, index) for index, device in enumerate(order))


def display(spec, run_dir):
    """{'vnc': None or the -vnc value, 'video': the device} of a validated guest spec."""
    name, vnc = spec["name"], spec.get("vnc")
    if spec["display"] != "vnc":
        if vnc:
            _fail(name, "vnc", "set, and display is none", "set display: vnc, or drop vnc")
        return {"vnc": None, "video": None}
    vnc = vnc or {"listen": "unix", "port": 5900, "public": False}
    if vnc["listen"] == "unix":
        where = "unix:%s/%s/vnc.sock" % (run_dir, name)
    else:
        if not vnc["listen"].startswith("127.") and not vnc["public"]:
            _fail(name, "vnc.listen", "%s is not a loopback address, and VNC has no password here: anyone who reaches"
                  " it sees and drives the guest's screen" % vnc["listen"],
                  "listen on unix (the default) or 127.0.0.1, or set vnc.public: true to mean it")
        where = "%s:%d" % (vnc["listen"], vnc["port"] - 5900)
    return {"vnc": where, "video": "virtio-vga" if spec["video"] == "virtio" else "VGA"}


def image_disk(spec, settings):
    """The guest's first disk from its `image`: a qcow2 overlay (DISK_DIR/NAME.qcow2, or image.disk) on the image,
    which is a local file (image.path) or one the guests module fetches into IMAGE_DIR and verifies
    (image.url + image.checksum). Returns (the disk's raw entry, the fetch or None)."""
    name, image = spec["name"], spec.get("image")
    if not image:
        return None, None
    if bool(image.get("path")) == bool(image.get("url")):
        _fail(name, "image", "give exactly one of path and url", "path for an image on the host, url (with checksum)"
              " for one the host fetches")
    fetch = None
    if image.get("url"):
        if not image.get("checksum"):
            _fail(name, "image.checksum", "missing: a fetched image is always verified",
                  "give sha256:<hex> of the file (the distribution publishes it, e.g. in SHA256SUMS)")
        digest = image["checksum"].split(":", 1)[1]
        base = image["url"].rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0] or "image"
        safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in base)[:80]
        path = "%s/%s-%s" % (settings["image_dir"], digest[:16], safe)
        fetch = {"url": image["url"], "checksum": image["checksum"], "path": path}
    else:
        if image.get("checksum"):
            _fail(name, "image.checksum", "applies to image.url only", "drop it, or give url")
        path = image["path"]
    disk = {"path": image.get("disk") or "%s/%s.qcow2" % (settings["disk_dir"], name), "backing": path,
            "backing_format": image["format"], "size": image.get("size"), "interface": image["interface"],
            "readonly": False, "cache": None, "format": None}
    return disk, fetch


def tpm(spec, settings, host, strict):
    """{'tpm': None or {'unit', 'swtpm', 'state', 'socket'}}: a TPM 2.0 from swtpm, run by a companion unit as the
    guest's user, its state kept in STATE_DIR/NAME/tpm."""
    name = spec["name"]
    if not spec["tpm"]:
        return {"tpm": None}
    files = host.get("files")
    if strict and files is not None and not host.get("installs_firmware") and not files.get(settings["swtpm"]):
        _fail(name, "tpm", "a TPM needs swtpm, and '%s' does not exist on this host" % settings["swtpm"],
              "install the swtpm package (hostnet_guest_install_packages: true does), or set hostnet_guest_swtpm to"
              " where it is")
    # its own namespaces: no guest name can make a guest's unit or run directory collide with a TPM's
    return {"tpm": {"unit": "hostnet-swtpm-%s.service" % name, "swtpm": settings["swtpm"],
                    "state": "%s/%s/tpm" % (settings["state_dir"], name),
                    "socket": "%s-tpm/%s/swtpm.sock" % (settings["run_dir"], name)}}
