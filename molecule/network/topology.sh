#!/usr/bin/env bash
# The lab around the host, inside the lab container (idempotent; run in prepare and again after the restart):
#   outside   netns: the "internet", 198.51.100.2 (allowed), .3 (rejected), .200 (outside the allow list);
#             reached through the veth wan0 (198.51.100.1/24 in the container: the nat uplink). It has
#             no route back to the guests' subnets, so replies reach them only when masqueraded.
#   g1, g2    netns guests on the isolated bridge hqiso0 (192.168.60.11/.12), g3 on the nat bridge hqnat0.
#   foreignbr0 and table inet foreign: someone else's, must survive converge and teardown.
set -eu
ns() { ip netns list | grep -qw "$1" || ip netns add "$1"; }
ns outside
if ! ip link show wan0 >/dev/null 2>&1; then ip link add wan0 type veth peer name wan0-out netns outside; fi
ip addr replace 198.51.100.1/24 dev wan0
ip link set wan0 up
ip -n outside link set lo up
ip -n outside link set wan0-out up
for a in 198.51.100.2 198.51.100.3 198.51.100.200; do ip -n outside addr replace $a/24 dev wan0-out; done
for spec in g1:hqiso0:192.168.60.11:192.168.60.1 g2:hqiso0:192.168.60.12:192.168.60.1 g3:hqnat0:192.168.50.11:192.168.50.1; do
  IFS=: read -r g br addr gw <<<"$spec"
  ns "$g"
  if ! ip link show "v$g" >/dev/null 2>&1; then ip link add "v$g" type veth peer name eth0 netns "$g"; fi
  ip -n "$g" link set lo up
  ip -n "$g" addr replace "$addr/24" dev eth0
  ip -n "$g" link set eth0 up
  ip -n "$g" route replace default via "$gw" dev eth0 onlink
  if ip link show "$br" >/dev/null 2>&1; then ip link set "v$g" master "$br"; fi
  ip link set "v$g" up
done
# g3's web server (port 80), the target of natnet's port forward
mkdir -p /run/hostnet-lab-g3 && echo "hostnet-lab g3 web" >/run/hostnet-lab-g3/index.html
systemctl is-active --quiet hostnet-lab-g3-web.service || systemd-run --quiet --unit=hostnet-lab-g3-web --collect \
  ip netns exec g3 python3 -m http.server 80 --bind 192.168.50.11 --directory /run/hostnet-lab-g3
ip link show foreignbr0 >/dev/null 2>&1 || ip link add foreignbr0 type bridge
nft list table inet foreign >/dev/null 2>&1 || nft -f - <<'NFT'
table inet foreign {
  chain input { type filter hook input priority 10; policy accept; counter comment "someone else's"; }
}
NFT
