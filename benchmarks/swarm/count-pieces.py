#!/usr/bin/env python3
"""count-pieces.py TORRENT DIR [--bitmap]: how many of TORRENT's pieces lie verified under DIR.

Reads each file of the torrent from DIR (or its NAME.part, where a fetch keeps data until every
piece is verified; a missing file reads as nothing) and checks each piece's SHA-1. Prints
"GOOD TOTAL", or with --bitmap one character per piece (1: verified, 0: not). For the kill-and-resume check (run-kill-resume.sh): what an interrupted fetch left.
"""
import hashlib
import os
import sys


def decode(b, i=0):
    c = b[i:i + 1]
    if c == b'i':
        e = b.index(b'e', i)
        return int(b[i + 1:e]), e + 1
    if c == b'l':
        out, i = [], i + 1
        while b[i:i + 1] != b'e':
            v, i = decode(b, i)
            out.append(v)
        return out, i + 1
    if c == b'd':
        out, i = {}, i + 1
        while b[i:i + 1] != b'e':
            k, i = decode(b, i)
            v, i = decode(b, i)
            out[k] = v
        return out, i + 1
    colon = b.index(b':', i)
    n = int(b[i:colon])
    return b[colon + 1:colon + 1 + n], colon + 1 + n


def main():
    meta, _ = decode(open(sys.argv[1], 'rb').read())
    info = meta[b'info']
    root = sys.argv[2]
    name = info[b'name'].decode()
    if b'files' in info:
        files = [(os.path.join(root, name, *[p.decode() for p in f[b'path']]), f[b'length']) for f in info[b'files']]
    else:
        files = [(os.path.join(root, name), info[b'length'])]
    plen = info[b'piece length']
    hashes = info[b'pieces']
    total = len(hashes) // 20

    def chunks():
        for path, length in files:
            src = path if os.path.exists(path) else path + '.part'
            try:
                f = open(src, 'rb')
            except OSError:
                f = None
            left = length
            while left > 0:
                data = f.read(min(left, 1 << 20)) if f else b''
                if not data:
                    data = b'\0' * min(left, 1 << 20)  # missing or short: reads as zeros, which will not match
                left -= len(data)
                yield data
            if f:
                f.close()

    bits, piece, buf = [], 0, bytearray()
    for data in chunks():
        buf += data
        while len(buf) >= plen and piece < total:
            bits.append(hashlib.sha1(buf[:plen]).digest() == hashes[piece * 20:piece * 20 + 20])
            del buf[:plen]
            piece += 1
    if piece < total:
        bits.append(hashlib.sha1(buf).digest() == hashes[piece * 20:piece * 20 + 20])
    if '--bitmap' in sys.argv[3:]:
        print(''.join('1' if b else '0' for b in bits))
    else:
        print(sum(bits), total)


main()
