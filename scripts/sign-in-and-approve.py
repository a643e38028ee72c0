#!/usr/bin/env python3
"""Completes an authorization in Latchkey's own pages as a person would: signs in
with the given email and password, approves the consent screen, and stops
when the browser would reach the redirect URI on 127.0.0.1:3000.
usage: sign-in-and-approve.py AUTHORIZATION_URL EMAIL PASSWORD"""
import sys, urllib.request, urllib.parse, http.cookiejar
from html.parser import HTMLParser
url, email, password = sys.argv[1], sys.argv[2], sys.argv[3]
jar = http.cookiejar.CookieJar()
opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
class Forms(HTMLParser):
    """The page's forms: (action, hidden fields, input names, button values)."""
    def __init__(self):
        super().__init__()
        self.forms = []
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == 'form':
            self.forms.append((a.get('action'), {}, set(), set()))
        elif self.forms and tag in ('input', 'button'):
            _, hidden, names, buttons = self.forms[-1]
            if a.get('name'):
                names.add(a['name'])
            if tag == 'input' and a.get('type') == 'hidden' and a.get('name'):
                hidden[a['name']] = a.get('value') or ''
            if tag == 'button' and a.get('value'):
                buttons.add(a['value'])

def forms(page):
    parser = Forms()
    parser.feed(page)
    return parser.forms
r = opener.open(url); page = r.read().decode(); here = r.geturl()
for step in range(4):
    fs = forms(page)
    if not fs: print("no form at", here, page[:500]); sys.exit(1)
    form = next((f for f in fs if 'password' in f[2] or 'approve' in f[3]), None)
    if form is None:
        print("no sign-in or consent form at", here); sys.exit(1)
    action, fields, names, buttons = form
    if 'password' in names:
        fields.update({'email': email, 'password': password})
    else:
        fields['decision'] = 'approve'
    target = urllib.parse.urljoin(here, action or here)
    r = opener.open(target, urllib.parse.urlencode(fields).encode())
    here = r.geturl(); page = r.read().decode(errors='replace')
    if here.startswith('http://127.0.0.1:3000/'):
        print("landed", here[:120]); sys.exit(0)
print("did not land", here); sys.exit(1)
