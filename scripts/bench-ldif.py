#!/usr/bin/env python3
"""Prints a benchmark directory as LDIF for `ldapmodify -a` into the Samba AD fixture.

    scripts/bench-ldif.py LABEL USERS [GROUPS]

Creates OU=BenchLABEL with USERS password-less users (userAccountControl 544, enabled; a
password costs ~16 ms of hashing each, these ~3 ms) in OU=Users, the sync group
benchLABEL-sync (OU=Sync, outside the group search base) holding all of them, and USERS/10
groups benchLABEL-gNNNNN in OU=Groups, each with 50 to 150 members (about 10 memberships per
user), the shape benches/pass.rs generates for the in-process passes. GROUPS (default
USERS/10) sets how many groups there are: 100k users with the default make a million
memberships, whose loading into Samba takes hours on 2 cores; 1000 groups keep ~1 membership
per user. Scope for the bench:
sync group benchLABEL-sync, prefix benchLABEL-g, search base OU=Groups,OU=BenchLABEL,<base>.
"""
import sys

BASE = "DC=example,DC=test"


def main() -> None:
    label = sys.argv[1]
    users = int(sys.argv[2])
    groups = int(sys.argv[3]) if len(sys.argv) > 3 else max(1, users // 10)
    w = sys.stdout.write
    root = f"OU=Bench{label},{BASE}"
    for ou in (root, f"OU=Users,{root}", f"OU=Sync,{root}", f"OU=Groups,{root}"):
        w(f"dn: {ou}\nobjectClass: organizationalUnit\n\n")

    def user_dn(n: int) -> str:
        return f"CN=b{label}u{n:06d},OU=Users,{root}"

    for n in range(users):
        sam = f"b{label}u{n:06d}"
        w(f"dn: {user_dn(n)}\nobjectClass: user\nsAMAccountName: {sam}\n"
          f"userPrincipalName: {sam}@example.test\ngivenName: Given{n}\nsn: Family{n}\n"
          f"displayName: Given{n} Family{n}\nmail: {sam}@example.test\n"
          f"userAccountControl: 544\n\n")

    w(f"dn: CN=bench{label}-sync,OU=Sync,{root}\nobjectClass: group\n"
      f"sAMAccountName: bench{label}-sync\n")
    for n in range(users):
        w(f"member: {user_dn(n)}\n")
    w("\n")

    state = 42
    for g in range(groups):
        size = 50 + (g * 37) % 101
        members = set()
        for _ in range(size):
            state = (state * 6364136223846793005 + 1442695040888963407) % (1 << 64)
            members.add((state >> 33) % users)
        w(f"dn: CN=bench{label}-g{g:05d},OU=Groups,{root}\nobjectClass: group\n"
          f"sAMAccountName: bench{label}-g{g:05d}\n")
        for n in sorted(members):
            w(f"member: {user_dn(n)}\n")
        w("\n")


if __name__ == "__main__":
    main()
