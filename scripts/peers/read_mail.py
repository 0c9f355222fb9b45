#!/usr/bin/env python3
"""Parses a saved message with Python's own email package and prints what a mail reader would show, as JSON.

The Swift tests use it so that the headers and bodies they build are checked by an independent MIME
implementation, not by the code that wrote them.
"""
import json
import sys
from email import policy
from email.parser import BytesParser

with open(sys.argv[1], "rb") as f:
    raw = f.read()
message = BytesParser(policy=policy.default).parsebytes(raw)
parts = []
for part in message.walk():
    if part.is_multipart():
        continue
    parts.append({
        "content_type": part.get_content_type(),
        "charset": part.get_content_charset(),
        "transfer_encoding": part.get("Content-Transfer-Encoding"),
        "content": part.get_content(),
    })
lines = raw.split(b"\r\n")
print(json.dumps({
    "subject": str(message["Subject"]),
    "from": str(message["From"]),
    "from_display_name": message["From"].addresses[0].display_name,
    "to": [a.addr_spec for a in message["To"].addresses],
    "to_display_names": [a.display_name for a in message["To"].addresses],
    "message_id": str(message["Message-ID"]),
    "date": str(message["Date"]),
    "mime_version": str(message["MIME-Version"]),
    "content_type": message.get_content_type(),
    "parts": parts,
    "defects": [str(d) for d in message.defects],
    "longest_line": max(len(l) for l in lines),
    "has_bare_lf": b"\n" in raw.replace(b"\r\n", b""),
    "all_ascii": all(b < 128 for b in raw),
}, ensure_ascii=False))
