#!/usr/bin/python3
"""A real SMTP server for evne's e2e tests (Debian's python3-aiosmtpd), and a message parser.

  smtp_server.py serve --port P --dir DIR [--reject "550 5.1.1 No such user"] [--reject-at rcpt|data]
                       [--stall] [--starttls CERT KEY] [--ready FILE]
      Listens on 127.0.0.1:P. Each message it accepts is written to DIR as NNNN-<ns>.eml (the
      raw bytes as received, CRLF and all) beside NNNN-<ns>.json (the envelope: mail_from,
      rcpt_tos, and tls: whether the session had been upgraded with STARTTLS); the .eml appears
      by rename, so a reader never sees half of one. --starttls offers STARTTLS with the PEM
      certificate CERT and its key KEY, and requires it: before it every command but EHLO, NOOP,
      QUIT and STARTTLS is answered "530 Must issue a STARTTLS command first". --reject
      answers every RCPT (or DATA) with that reply instead. --stall accepts connections and never
      says a word (a server that hangs). FILE gets the pid once the server listens. SIGTERM or
      SIGKILL takes it down; start it again on the same port to bring it back.

  smtp_server.py parse FILE
      Prints JSON of a message as Python's email package (policy=default) reads it: the headers
      decoded (RFC 2047), each leaf part with its type, parameters, disposition, file name and
      decoded text, and the defects the parser found.
"""
import argparse
import email
import email.policy
import json
import os
import signal
import socket
import sys
import threading
import time


def write_ready(path):
    if path:
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(os.getpid()))
        os.rename(tmp, path)


def wait_for_signal():
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while not stop.wait(3600):
        pass


class Handler:
    def __init__(self, folder, reject, reject_at):
        self.folder = folder
        self.reject = reject
        self.reject_at = reject_at
        self.seq = 0
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.reject and self.reject_at == "rcpt":
            return self.reject
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):
        if self.reject and self.reject_at == "data":
            return self.reject
        with self.lock:
            self.seq += 1
            name = "%04d-%d" % (self.seq, time.time_ns())
        base = os.path.join(self.folder, name)
        with open(base + ".json", "w") as f:
            json.dump({"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
                       "tls": session.ssl is not None}, f)
        with open(base + ".tmp", "wb") as f:
            f.write(envelope.original_content)
        os.rename(base + ".tmp", base + ".eml")
        return "250 2.0.0 Ok: queued as %s" % name


def serve(args):
    os.makedirs(args.dir, exist_ok=True)
    if args.stall:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", args.port))
        listener.listen(64)
        held = []

        def accept():
            while True:
                conn, _ = listener.accept()
                held.append(conn)   # never answered, never closed

        threading.Thread(target=accept, daemon=True).start()
        write_ready(args.ready)
        wait_for_signal()
        return
    from aiosmtpd.controller import Controller
    handler = Handler(args.dir, args.reject, args.reject_at)
    tls = {}
    if args.starttls:
        import ssl
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.starttls[0], args.starttls[1])
        tls = {"tls_context": context, "require_starttls": True}
    controller = Controller(handler, hostname="127.0.0.1", port=args.port,
                            decode_data=False, ready_timeout=5, **tls)
    controller.start()
    write_ready(args.ready)
    try:
        wait_for_signal()
    finally:
        controller.stop()


def leaf(part):
    try:
        text = part.get_content()
    except Exception as e:  # a part Python cannot decode is a finding, not a crash
        text = None
        part.defects.append("cannot decode: %s" % e)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return {
        "content_type": part.get_content_type(),
        "params": {k: v for k, v in part.get_params() or []},
        "charset": part.get_content_charset(),
        "disposition": part.get_content_disposition(),
        "filename": part.get_filename(),
        "transfer_encoding": part.get("Content-Transfer-Encoding"),
        "text": text,
        "defects": [str(d) for d in part.defects],
    }


def parse(path):
    with open(path, "rb") as f:
        raw = f.read()
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    headers = {}
    for k, v in msg.items():
        headers.setdefault(k.lower(), str(v))
    parts = [leaf(p) for p in msg.walk() if not p.is_multipart()]
    out = {
        "headers": headers,
        "content_type": msg.get_content_type(),
        "parts": parts,
        "defects": [str(d) for d in msg.defects],
    }
    json.dump(out, sys.stdout, ensure_ascii=True)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--dir", required=True)
    s.add_argument("--reject")
    s.add_argument("--reject-at", choices=["rcpt", "data"], default="rcpt")
    s.add_argument("--stall", action="store_true")
    s.add_argument("--starttls", nargs=2, metavar=("CERT", "KEY"))
    s.add_argument("--ready")
    q = sub.add_parser("parse")
    q.add_argument("file")
    args = p.parse_args()
    if args.cmd == "serve":
        serve(args)
    else:
        parse(args.file)


if __name__ == "__main__":
    main()
