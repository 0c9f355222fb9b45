#!/usr/bin/env python3
"""SMSC test peer for RechargeMessaging: the smpp34 (PyPI) SMPP 3.4 server, recording what it receives.

Every submit_sm is appended to LOG as one JSON line (short_message as hex, data_coding, esm_class, the UDH
split off when esm_class has UDHI set, TLVs, and what the SMSC answered), so the Swift integration tests
can check, part by part, what went over the wire. Accepted submits that ask for a receipt
(registered_delivery & 1) get a delivery receipt deliver_sm back: the standard receipt text plus the
receipted_message_id and message_state TLVs.

Destination prefixes steer the answer, so error handling is tested against real PDUs from this server:
  999…  the first submit of a given (destination, short_message) is refused with ESME_RTHROTTLED (0x58)
  998…  the first submit of a given (destination, short_message) is refused with ESME_RMSGQFUL (0x14)
  888…  always refused with ESME_RINVDSTADR (0x0B)
The log is appended to, never truncated, so a restarted SMSC keeps the history of the one before it.
"""
import argparse
import asyncio
import json
import os
import signal
import time

import smpp34

RECEIPT_DELAY_SECONDS = 0.05


def split_udh(short_message: bytes, esm_class: int):
    if esm_class & 0x40 and short_message:
        length = short_message[0]
        udh = short_message[1 : 1 + length]
        body = short_message[1 + length :]
        parsed = []
        i = 0
        while i + 1 < len(udh):
            iei, iel = udh[i], udh[i + 1]
            parsed.append({"iei": iei, "data": list(udh[i + 2 : i + 2 + iel])})
            i += 2 + iel
        return udh, body, parsed
    return b"", short_message, []


# Receipt outcome by destination prefix: 777… is never delivered (UNDELIV, message_state 5, err 001);
# every other accepted message is delivered (DELIVRD, message_state 2).
def receipt_outcome(destination: str):
    return ("UNDELIV", 5, "001", "000") if destination.startswith("777") else ("DELIVRD", 2, "000", "001")


def receipt_text(message_id: str, body: bytes, data_coding: int, destination: str = "") -> bytes:
    stamp = time.strftime("%y%m%d%H%M")
    if data_coding == 0:
        sample = "".join(chr(b) if 32 <= b < 127 else "." for b in body[:20])
    else:
        sample = "ucs2"
    stat, _, err, dlvrd = receipt_outcome(destination)
    return (
        "id:%s sub:001 dlvrd:%s submit date:%s done date:%s stat:%s err:%s text:%s"
        % (message_id, dlvrd, stamp, stamp, stat, err, sample)
    ).encode("ascii")


async def send_receipt(esme, event, message_id, body):
    await asyncio.sleep(RECEIPT_DELAY_SECONDS)
    try:
        await esme.deliver_sm(
            event.source_addr,
            receipt_text(message_id, body, event.data_coding, event.destination_addr),
            source_addr=event.destination_addr,
            esm_class=0x04,
            tlvs=[
                smpp34.Tlv(smpp34.TLV_RECEIPTED_MESSAGE_ID, message_id.encode("ascii") + b"\x00"),
                smpp34.Tlv(smpp34.TLV_MESSAGE_STATE, bytes([receipt_outcome(event.destination_addr)[1]])),
            ],
        )
    except Exception as error:  # the ESME may have gone away; the log says so
        print("smsc: receipt for %s not delivered: %r" % (message_id, error), flush=True)


async def serve(host: str, port: int, log_path: str):
    server = smpp34.Server(host=host, port=port, system_id="RechargeTestSMSC")
    await server.start()
    print("smsc listening on %s:%d, logging to %s" % (host, port, log_path), flush=True)
    sessions = {}
    refused_once = set()
    counter = 0
    pid = os.getpid()
    tasks = set()
    with open(log_path, "a", buffering=1) as log:
        while True:
            event = await server.next()
            if isinstance(event, smpp34.Esme):
                sessions[event.session_id] = event
                log.write(json.dumps({"event": "bind", "session_id": event.session_id,
                                      "system_id": event.system_id, "pid": pid}) + "\n")
            elif isinstance(event, smpp34.Unbound):
                sessions.pop(event.session_id, None)
                log.write(json.dumps({"event": "unbound", "session_id": event.session_id, "pid": pid}) + "\n")
            elif isinstance(event, smpp34.SubmitSmEvent):
                udh, body, parsed = split_udh(event.short_message, event.esm_class)
                dest = event.destination_addr
                key = (dest, event.short_message)
                record = {
                    "event": "submit_sm",
                    "pid": pid,
                    "session_id": event.session_id,
                    "source_addr": event.source_addr,
                    "destination_addr": dest,
                    "esm_class": event.esm_class,
                    "data_coding": event.data_coding,
                    "registered_delivery": event.registered_delivery,
                    "short_message": event.short_message.hex(),
                    "udh": udh.hex(),
                    "udh_elements": parsed,
                    "body": body.hex(),
                    "tlvs": [[t.tag, t.value.hex()] for t in event.tlvs],
                }
                # The log line is written before the answer, so a test that kills this process as soon as it
                # has its submit_sm_resp always finds the submit in the log.
                if dest.startswith("999") and key not in refused_once:
                    refused_once.add(key)
                    record["answer"] = "ESME_RTHROTTLED"
                    log.write(json.dumps(record) + "\n")
                    event.reject(smpp34.ESME_RTHROTTLED)
                elif dest.startswith("998") and key not in refused_once:
                    refused_once.add(key)
                    record["answer"] = "ESME_RMSGQFUL"
                    log.write(json.dumps(record) + "\n")
                    event.reject(smpp34.ESME_RMSGQFUL)
                elif dest.startswith("888"):
                    record["answer"] = "ESME_RINVDSTADR"
                    log.write(json.dumps(record) + "\n")
                    event.reject(smpp34.ESME_RINVDSTADR)
                else:
                    counter += 1
                    message_id = "%x%06d" % (pid, counter)
                    record["answer"] = "ESME_ROK"
                    record["message_id"] = message_id
                    log.write(json.dumps(record) + "\n")
                    event.accept(message_id)
                    esme = sessions.get(event.session_id)
                    if event.registered_delivery & 0x01 and esme is not None:
                        task = asyncio.ensure_future(send_receipt(esme, event, message_id, body))
                        tasks.add(task)
                        task.add_done_callback(tasks.discard)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", required=True)
    args = parser.parse_args()
    # The Rust core keeps the process alive past a plain SIGTERM; exit at once, as a crashed SMSC would.
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    try:
        asyncio.run(serve(args.host, args.port, args.log))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
