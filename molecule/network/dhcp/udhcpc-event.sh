#!/bin/sh
# busybox udhcpc event script of the DHCP test clients (netns): apply the lease and print it on one line.
# udhcpc sets interface, ip, mask, router, dns, domain and lease in the environment.
# shellcheck disable=SC2154
case "$1" in
  deconfig)
    ip addr flush dev "$interface"
    ip link set "$interface" up
    ;;
  bound|renew)
    ip addr replace "$ip/$mask" dev "$interface"
    [ -z "$router" ] || ip route replace default via "$router" dev "$interface"
    echo "lease ip=$ip mask=$mask router=${router:-none} dns=${dns:-none} domain=${domain:-none} lease=$lease"
    ;;
esac
exit 0
