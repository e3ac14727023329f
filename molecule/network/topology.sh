#!/usr/bin/env bash
# The lab around the host, inside the lab container (idempotent; run in prepare and again after the restart):
#   outside   netns: the "internet", 198.51.100.2 (allowed), .3 (rejected), .200 (outside the allow list);
#             reached through the veth wan0 (198.51.100.1/24 in the container: the nat uplink). It has
#             no route back to the guests' subnets, so replies reach them only when masqueraded. IPv6: the
#             outside is 2001:db8:ff::2, wan0 2001:db8:ff::1; the guests take addresses by SLAAC. wan0 is the
#             host's NIC: made at every boot by hostnet-lab-wan.service, before hostnet-qemu-network.service.
#   g1, g2    netns guests on the isolated bridge hqiso0 (192.168.60.11/.12), g3 on the nat bridge hqnat0,
#             g4 on the routed bridge hqrt0 (10.66.0.11; the outside routes 10.66.0.0/24 through wan0), also
#             holding 198.51.100.50 and 2001:db8:ff::66 of the outside's own LAN (no route: found by the host's
#             proxy ARP and proxy NDP).
#   foreignbr0 and table inet foreign: someone else's, must survive converge and teardown.
#   u1, u2    netns behind the host's own router (hqu1 10.88.1.1, hqu2 10.88.2.1: forwarding on for these two by
#             hand); the outside has a route to them through wan0. The host is no router otherwise:
#             net.ipv4.ip_forward = 0 from its own sysctl.d at every boot.
set -eu
if [ ! -e /etc/sysctl.d/10-hostnet-lab-not-a-router.conf ]; then
  echo "net.ipv4.ip_forward = 0" >/etc/sysctl.d/10-hostnet-lab-not-a-router.conf
  sysctl -q -w net.ipv4.ip_forward=0  # as at boot: only before the collection came (prepare)
fi
# A host whose default forms random IPv6 link-local addresses: the networks' bridges must form theirs from their MAC
# all the same, or the guest port filters could not refuse the host's address to a guest (tasks/ipv6.yml).
if [ ! -e /etc/sysctl.d/10-hostnet-lab-random-link-local.conf ]; then
  echo "net.ipv6.conf.default.addr_gen_mode = 3" >/etc/sysctl.d/10-hostnet-lab-random-link-local.conf
  sysctl -q -w net.ipv6.conf.default.addr_gen_mode=3
fi
ns() { ip netns list | grep -qw "$1" || ip netns add "$1"; }
if [ ! -e /etc/systemd/system/hostnet-lab-wan.service ]; then
  cat >/usr/local/sbin/hostnet-lab-wan <<'SH'
#!/bin/sh
# lab only: the veth "NIC" wan0 (198.51.100.1/24) and the outside (netns outside) behind it
set -eu
ip netns list | grep -qw outside || ip netns add outside
ip link show wan0 >/dev/null 2>&1 || ip link add wan0 type veth peer name wan0-out netns outside
ip addr replace 198.51.100.1/24 dev wan0
ip addr replace 2001:db8:ff::1/64 dev wan0 nodad
ip link set wan0 up
ip -n outside link set lo up
ip -n outside link set wan0-out up
for a in 198.51.100.2 198.51.100.3 198.51.100.200; do ip -n outside addr replace $a/24 dev wan0-out; done
ip -n outside addr replace 2001:db8:ff::2/64 dev wan0-out nodad
SH
  chmod 0755 /usr/local/sbin/hostnet-lab-wan
  cat >/etc/systemd/system/hostnet-lab-wan.service <<'UNIT'
[Unit]
Description=lab: the veth NIC wan0 and the outside (netns outside) behind it
DefaultDependencies=no
After=local-fs.target
Before=hostnet-qemu-network.service
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/hostnet-lab-wan
[Install]
WantedBy=multi-user.target
UNIT
  systemctl daemon-reload
  systemctl enable --quiet hostnet-lab-wan.service
fi
systemctl start hostnet-lab-wan.service
for spec in g1:hqiso0:192.168.60.11:192.168.60.1 g2:hqiso0:192.168.60.12:192.168.60.1 g3:hqnat0:192.168.50.11:192.168.50.1 \
    g4:hqrt0:10.66.0.11:10.66.0.1; do
  IFS=: read -r g br addr gw <<<"$spec"
  ns "$g"
  if ! ip link show "v$g" >/dev/null 2>&1; then ip link add "v$g" type veth peer name eth0 netns "$g"; fi
  ip -n "$g" link set lo up
  ip -n "$g" addr replace "$addr/24" dev eth0
  ip -n "$g" link set eth0 up
  ip -n "$g" route replace default via "$gw" dev eth0 onlink
  # the guest's link comes up once it is on its bridge, as a real guest's NIC does when QEMU starts: its router
  # solicitations then begin while the network's dnsmasq can answer (not minutes earlier, backed off)
  if ip link show "$br" >/dev/null 2>&1; then
    ip link set "v$g" master "$br"
    ip link set "v$g" up
  fi
done
# g3's web server (port 80, IPv4 and IPv6), the target of natnet's port forwards; its IPv6 forward needs a fixed
# address beside the SLAAC one
ip -n g3 addr replace fd00:50::11/64 dev eth0 nodad
mkdir -p /run/hostnet-lab-g3 && echo "hostnet-lab g3 web" >/run/hostnet-lab-g3/index.html
systemctl is-active --quiet hostnet-lab-g3-web.service || systemd-run --quiet --unit=hostnet-lab-g3-web --collect \
  ip netns exec g3 python3 -m http.server 80 --bind :: --directory /run/hostnet-lab-g3
for spec in u1:hqu1:10.88.1 u2:hqu2:10.88.2; do
  IFS=: read -r u hostif net <<<"$spec"
  ns "$u"
  if ! ip link show "$hostif" >/dev/null 2>&1; then ip link add "$hostif" type veth peer name eth0 netns "$u"; fi
  ip addr replace "$net.1/24" dev "$hostif"
  ip link set "$hostif" up
  sysctl -q -w "net.ipv4.conf.$hostif.forwarding=1"
  ip -n "$u" link set lo up
  ip -n "$u" addr replace "$net.2/24" dev eth0
  ip -n "$u" link set eth0 up
  ip -n "$u" route replace default via "$net.1" dev eth0
done
ip -n outside route replace 10.88.0.0/16 via 198.51.100.1 dev wan0-out
ip -n outside route replace 10.66.0.0/24 via 198.51.100.1 dev wan0-out
ip -n outside route replace 10.67.0.0/24 via 198.51.100.1 dev wan0-out
ip -n outside route replace fd00:66::/64 via 2001:db8:ff::1 dev wan0-out  # the routed network's IPv6 prefix
ip -n g4 addr replace 10.67.0.1/32 dev lo  # a subnet behind the "guest" g4, routed to it by rtnet's routes
ip -n g4 addr replace 198.51.100.50/32 dev lo  # an address of the outside's LAN, published by proxy ARP on wan0
# the gateway of rtnet's IPv6 route, beside g4's SLAAC address; deprecated (preferred_lft 0) so that g4 still sends
# from its SLAAC address (tasks/ipv6.yml reads which one the outside sees)
ip -n g4 addr replace fd00:66::11/64 dev eth0 nodad preferred_lft 0
ip -n g4 addr replace 2001:db8:ff::66/128 dev lo  # an IPv6 address of the outside's LAN, published by proxy NDP
ip link show foreignbr0 >/dev/null 2>&1 || ip link add foreignbr0 type bridge
nft list table inet foreign >/dev/null 2>&1 || nft -f - <<'NFT'
table inet foreign {
  chain input { type filter hook input priority 10; policy accept; counter comment "someone else's"; }
}
NFT
