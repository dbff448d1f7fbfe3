#!/usr/bin/env python3
"""Prints the bulk part of the Samba AD fixture as LDIF for `ldapmodify -a`.

3000 password-less users (userAccountControl 544, every 100th disabled with 546: passwords
cost ~16 ms each to hash, these cost ~3 ms) in OU=Bulk, the group aws-big holding all of them
plus p001 and p002 (bigger than Windows' 1500-value MaxValRange, so the ranged `member` loop
is needed), and aws-sync-all (aws-sync-users + aws-big), the sync group of the "large" scope.
Generated rather than committed to keep the repository small; tests/fixtures/ldap/README.md
lists what the tests derive from it.
"""
import sys

BASE = "DC=example,DC=test"
COUNT = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
w = sys.stdout.write

for n in range(1, COUNT + 1):
    sam = f"bulk{n:05d}"
    uac = 546 if n % 100 == 0 else 544
    w(f"dn: CN={sam},OU=Bulk,{BASE}\nobjectClass: user\nsAMAccountName: {sam}\n"
      f"userPrincipalName: {sam}@example.test\ngivenName: Bulk\nsn: User{n:05d}\n"
      f"displayName: Bulk User{n:05d}\nmail: {sam}@example.test\nuserAccountControl: {uac}\n\n")

big = f"CN=aws-big,OU=AWS,{BASE}"
w(f"dn: {big}\nchangetype: add\nobjectClass: group\nsAMAccountName: aws-big\n"
  f"description: {COUNT} bulk users and p001, p002\n\n")
w(f"dn: {big}\nchangetype: modify\nadd: member\n")
for n in range(1, COUNT + 1):
    w(f"member: CN=bulk{n:05d},OU=Bulk,{BASE}\n")
w(f"member: CN=p001,OU=People,{BASE}\nmember: CN=p002,OU=People,{BASE}\n-\n\n")

w(f"dn: CN=aws-sync-all,OU=AWS,{BASE}\nchangetype: add\nobjectClass: group\n"
  f"sAMAccountName: aws-sync-all\ndescription: the large scope: aws-sync-users and aws-big\n"
  f"member: CN=aws-sync-users,OU=AWS,{BASE}\nmember: {big}\n\n")
