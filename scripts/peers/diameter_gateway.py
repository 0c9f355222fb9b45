#!/usr/bin/env python3
"""A Diameter Gy gateway (PCEF/CTF) built on python-diameter, the peer the RechargeDiameter tests run against.

It connects to the OCS under test (a `DiameterServer` the Swift test starts, with a toy handler that grants fixed
units from a counter and sends a final unit when the counter runs out), and:
  1. CER/CEA (python-diameter's own Node does the exchange),
  2. waits for the OCS's DWR (answered by the Node), then sends its own DWR,
  3. a whole voice call: CCR-I, CCR-U, CCR-U, CCR-T with IMS Called-Party-Address,
  4. an SMS event: CCR-E with SMS-Information/Recipient-Info/Recipient-Address,
  5. a data session with PS-Information/3GPP-SGSN-MCC-MNC until the final unit (REDIRECT),
  6. prints `awaiting_rar` and answers the OCS's RAR with RAA 2001, then re-authorises with a CCR-U
     (RFC 4006 §5.5) and ends the session with CCR-T,
  7. DPR/DPA (Node.stop()).
Every step prints one JSON line; the Swift test asserts on them.

Usage: diameter_gateway.py --port PORT [--host 127.0.0.1] [--ocs-host ocs.test.example] [--ocs-realm test.example]
"""
import argparse
import datetime
import json
import logging
import sys
import threading
import time

from diameter.message.avp.grouped import (
    ImsInformation, MultipleServicesCreditControl, PsInformation, RecipientAddress, RecipientInfo, RequestedServiceUnit,
    ServiceInformation, SmsInformation, SubscriptionId, UsedServiceUnit)
from diameter.message.commands import CreditControlRequest
from diameter.message.constants import APP_DIAMETER_CREDIT_CONTROL_APPLICATION
from diameter.node import Node
from diameter.node.application import SimpleThreadingApplication

ORIGIN_HOST = "pgw.test.example"
REALM = "gw.example"


def emit(**fields):
    print(json.dumps(fields, sort_keys=True), flush=True)


class GatewayNode(Node):
    """python-diameter's Node, reporting the base-protocol answers it gets."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.cea_seen = threading.Event()
        self.dwr_seen = threading.Event()
        self.dwa_seen = threading.Event()

    def receive_cea(self, conn, message):
        apps = list(message.auth_application_id)
        emit(event="cea", result_code=message.result_code, origin_host=message.origin_host.decode(),
             origin_realm=message.origin_realm.decode(), auth_application_ids=apps,
             supported_vendor_ids=list(message.supported_vendor_id), product_name=message.product_name)
        super().receive_cea(conn, message)
        self.cea_seen.set()

    def receive_dwr(self, conn, message):
        emit(event="dwr_received", origin_host=message.origin_host.decode())
        super().receive_dwr(conn, message)
        self.dwr_seen.set()

    def receive_dwa(self, conn, message):
        emit(event="dwa", result_code=message.result_code, origin_host=message.origin_host.decode())
        super().receive_dwa(conn, message)
        self.dwa_seen.set()

    def receive_dpa(self, conn, message):
        emit(event="dpa", result_code=message.result_code)
        super().receive_dpa(conn, message)


rar_seen = threading.Event()


def handle_request(app, message):
    """The OCS's requests to the gateway: RAR → RAA 2001."""
    emit(event="rar", session=message.session_id, command_code=message.header.command_code,
         re_auth_request_type=message.re_auth_request_type, auth_application_id=message.auth_application_id,
         destination_host=message.destination_host.decode())
    answer = app.generate_answer(message, result_code=2001)
    rar_seen.set()
    return answer


def mscc_summary(answer):
    services = []
    for mscc in answer.multiple_services_credit_control or []:
        granted = mscc.granted_service_unit
        fui = mscc.final_unit_indication
        services.append({
            "rating_group": mscc.rating_group,
            "result_code": mscc.result_code,
            "granted_time": granted.cc_time if granted else None,
            "granted_octets": granted.cc_total_octets if granted else None,
            "validity_time": mscc.validity_time,
            "final_unit_action": fui.final_unit_action if fui else None,
            "redirect_address_type": fui.redirect_server.redirect_address_type if fui and fui.redirect_server else None,
            "redirect_address": fui.redirect_server.redirect_server_address if fui and fui.redirect_server else None,
        })
    return services


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ocs-host", default="ocs.test.example")
    parser.add_argument("--ocs-realm", default="test.example")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    node = GatewayNode(ORIGIN_HOST, REALM, vendor_ids=[10415])
    node.product_name = "python-diameter gateway"
    peer = node.add_peer(f"aaa://{args.ocs_host}:{args.port};transport=tcp", args.ocs_realm,
                         ip_addresses=[args.host], is_persistent=True, is_default=True)
    peer.idle_timeout = 60  # leave the first watchdog to the OCS (its Tw is short in the test)
    app = SimpleThreadingApplication(APP_DIAMETER_CREDIT_CONTROL_APPLICATION, is_auth_application=True,
                                     request_handler=handle_request)
    # python-diameter routes even requests addressed to this node by Destination-Realm: the OCS's RAR names our realm,
    # so the application is registered for it too.
    node.add_application(app, [peer], realms=[REALM])
    node.start()
    try:
        if not node.cea_seen.wait(10):
            emit(event="error", step="cer", detail="no CEA")
            return 1
        app.wait_for_ready(10)

        # 2. The OCS's watchdog, then ours.
        emit(event="dwr_wait", received=node.dwr_seen.wait(10))
        for conn in list(node.connections.values()):
            node.send_dwr(conn)
        node.dwa_seen.wait(5)

        counter = [0]

        def ccr(session, request_type, number, msisdn, context="32260@3gpp.org", **fields):
            request = CreditControlRequest()
            request.session_id = session
            request.origin_host = ORIGIN_HOST.encode()
            request.origin_realm = REALM.encode()
            request.destination_realm = args.ocs_realm.encode()
            request.auth_application_id = APP_DIAMETER_CREDIT_CONTROL_APPLICATION
            request.service_context_id = context
            request.cc_request_type = request_type
            request.cc_request_number = number
            request.event_timestamp = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
            request.subscription_id = [SubscriptionId(subscription_id_type=0, subscription_id_data=msisdn)]
            for key, value in fields.items():
                setattr(request, key, value)
            answer = app.send_request(request, timeout=10)
            counter[0] += 1
            emit(event="cca", session=answer.session_id, request_type=answer.cc_request_type,
                 request_number=answer.cc_request_number, result_code=answer.result_code,
                 origin_host=answer.origin_host.decode(), hop_by_hop_matches=True, services=mscc_summary(answer),
                 granted_units=(answer.granted_service_unit.cc_service_specific_units
                                if getattr(answer, "granted_service_unit", None) else None))
            return answer

        # 3. A voice call: I, U, U, T.
        call = f"{ORIGIN_HOST};call;{int(time.time())}"
        ims = ServiceInformation(ims_information=ImsInformation(
            called_party_address="tel:+86-139-0013-9000", role_of_node=0, node_functionality=6))
        ccr(call, 1, 0, "8613800138000", multiple_services_indicator=1, service_information=ims,
            multiple_services_credit_control=[MultipleServicesCreditControl(
                rating_group=100, requested_service_unit=RequestedServiceUnit(cc_time=60))])
        for number in (1, 2):
            ccr(call, 2, number, "8613800138000", multiple_services_indicator=1, service_information=ims,
                multiple_services_credit_control=[MultipleServicesCreditControl(
                    rating_group=100, requested_service_unit=RequestedServiceUnit(cc_time=60),
                    used_service_unit=[UsedServiceUnit(cc_time=60)], reporting_reason=[3])])
        ccr(call, 3, 3, "8613800138000", termination_cause=1,
            multiple_services_credit_control=[MultipleServicesCreditControl(
                rating_group=100, used_service_unit=[UsedServiceUnit(cc_time=30)], reporting_reason=[2])])

        # 4. An SMS: one event.
        sms = f"{ORIGIN_HOST};sms;{int(time.time())}"
        ccr(sms, 4, 0, "8613800138001", context="32274@3gpp.org", requested_action=0,
            service_information=ServiceInformation(sms_information=SmsInformation(recipient_info=[RecipientInfo(
                recipient_address=[RecipientAddress(address_type=1, address_data="+8613900139000")])])),
            multiple_services_credit_control=[MultipleServicesCreditControl(
                requested_service_unit=RequestedServiceUnit(cc_service_specific_units=1))])

        # 5. A data session while roaming (44010), until the final unit.
        data = f"{ORIGIN_HOST};data;{int(time.time())}"
        ps = ServiceInformation(ps_information=PsInformation(tgpp_sgsn_mcc_mnc="44010"))
        ccr(data, 1, 0, "8613800138002", context="32251@3gpp.org", service_information=ps,
            multiple_services_credit_control=[MultipleServicesCreditControl(
                rating_group=10, requested_service_unit=RequestedServiceUnit(cc_total_octets=60))])
        for number in (1, 2):
            ccr(data, 2, number, "8613800138002", context="32251@3gpp.org", service_information=ps,
                multiple_services_credit_control=[MultipleServicesCreditControl(
                    rating_group=10, requested_service_unit=RequestedServiceUnit(cc_total_octets=60),
                    used_service_unit=[UsedServiceUnit(cc_total_octets=60)], reporting_reason=[3])])

        # 6. The OCS re-authorises the data session (after a top-up, in real life).
        emit(event="awaiting_rar", session=data)
        if not rar_seen.wait(15):
            emit(event="error", step="rar", detail="no RAR")
        ccr(data, 2, 3, "8613800138002", context="32251@3gpp.org", service_information=ps,
            multiple_services_credit_control=[MultipleServicesCreditControl(
                rating_group=10, requested_service_unit=RequestedServiceUnit(cc_total_octets=60),
                used_service_unit=[UsedServiceUnit(cc_total_octets=30)], reporting_reason=[7])])
        ccr(data, 3, 4, "8613800138002", context="32251@3gpp.org", termination_cause=1,
            multiple_services_credit_control=[MultipleServicesCreditControl(
                rating_group=10, used_service_unit=[UsedServiceUnit(cc_total_octets=0)], reporting_reason=[2])])
    except Exception as error:  # every failure is reported as a line the test shows
        emit(event="error", step="flow", detail=repr(error))
    finally:
        # 7. DPR/DPA.
        node.stop(wait_timeout=10)
        emit(event="done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
