import Foundation
import Logging
import NIOConcurrencyHelpers
import RechargeTestSupport
import Testing

@testable import RechargeDiameter

/// One Multiple-Services-Credit-Control summary from the script's `cca` lines.
struct MSCCSummary: Decodable, Equatable {
    var rating_group: UInt32?
    var result_code: UInt32?
    var granted_time: UInt32?
    var granted_octets: UInt64?
    var validity_time: UInt32?
    var final_unit_action: UInt32?
    var redirect_address_type: UInt32?
    var redirect_address: String?
}

@Suite("Diameter against a python-diameter gateway", .serialized)
struct DiameterGatewayPeerTests {
    @Test(
        .enabled(
            if: DiameterGatewayPeer.configured,
            "needs RECHARGE_TEST_PEERS_PYTHON and RECHARGE_TEST_DIAMETER_GATEWAY: run eval \"$(scripts/start-peers)\" first"),
        .timeLimit(.minutes(2)))
    func aGatewayRunsCallsSMSDataReAuthAndDisconnectAgainstOurServer() async throws {
        let handler = ToyCounterHandler(units: 150)
        let (server, port) = try await startServer(handler) {
            $0.watchdogInterval = .seconds(1)
            $0.identity.hostIPAddresses = [DiameterAddress(ipv4: "127.0.0.1")!]
        }
        let gateway = try GatewayProcess(python: DiameterGatewayPeer.python!, script: DiameterGatewayPeer.script!, port: port)
        defer { if gateway.process.isRunning { gateway.process.terminate() } }

        let awaiting = try await gateway.waitFor("awaiting_rar")
        let session = try #require(awaiting?["session"], "\(gateway.transcript)")
        #expect(try await server.reAuth(sessionID: session, peerOriginHost: "pgw.test.example", destinationRealm: "gw.example") == 2001)
        #expect(try await gateway.waitFor("done") != nil, "\(gateway.transcript)")
        #expect(gateway.events("error").isEmpty, "\(gateway.transcript)")

        // CER/CEA as python-diameter read our CEA.
        let cea = try #require(gateway.events("cea").first, "\(gateway.transcript)")
        #expect(cea["result_code"] == "2001" && cea["origin_host"] == "ocs.test.example" && cea["origin_realm"] == "test.example")
        #expect(cea["auth_application_ids"] == "[4]" && cea["supported_vendor_ids"] == "[10415]")
        // Our DWR (Tw = 1 s) reached the gateway; its DWR got our DWA.
        #expect(gateway.events("dwr_wait").first?["received"] == "1")
        #expect(gateway.events("dwa").first?["result_code"] == "2001" && gateway.events("dwa").first?["origin_host"] == "ocs.test.example")

        let ccas = gateway.events("cca")
        #expect(ccas.count == 10, "\(gateway.transcript)")
        func services(_ cca: [String: String]) throws -> [MSCCSummary] {
            try JSONDecoder().decode([MSCCSummary].self, from: Data((cca["services"] ?? "[]").utf8))
        }
        #expect(ccas.allSatisfy { $0["result_code"] == "2001" && $0["origin_host"] == "ocs.test.example" })
        // The call: 150 s in the counter, 60 + 60 granted, then the last 30 as the final unit (TERMINATE).
        let call = ccas.filter { $0["session"]?.contains(";call;") == true }
        #expect(call.map { $0["request_type"] ?? "" } == ["1", "2", "2", "3"] && call.map { $0["request_number"] ?? "" } == ["0", "1", "2", "3"])
        #expect(try call.prefix(3).map { try services($0).first?.granted_time } == [60, 60, 30])
        #expect(try services(call[2]).first?.final_unit_action == 0 && services(call[1]).first?.final_unit_action == nil)
        #expect(try services(call[0]).first?.validity_time == 3_600 && services(call[0]).first?.rating_group == 100)
        // The SMS: one event, one unit.
        let sms = try #require(ccas.first { $0["session"]?.contains(";sms;") == true })
        #expect(sms["request_type"] == "4" && sms["granted_units"] == "1")
        // The data session: octets, the final unit redirects to the top-up URL (Redirect-Address-Type URL = 2), and
        // after the RAR the gateway re-authorised and found the counter empty (4012 for the rating group).
        let data = ccas.filter { $0["session"]?.contains(";data;") == true }
        #expect(data.count == 5)
        #expect(try data.prefix(3).map { try services($0).first?.granted_octets } == [60, 60, 30])
        let final = try services(data[2]).first
        #expect(final?.final_unit_action == 1 && final?.redirect_address_type == 2 && final?.redirect_address == "https://top.up.example/")
        #expect(try services(data[3]).first?.result_code == 4012)
        let rar = try #require(gateway.events("rar").first)
        #expect(rar["session"] == session && rar["command_code"] == "258" && rar["re_auth_request_type"] == "0")
        #expect(rar["auth_application_id"] == "4" && rar["destination_host"] == "pgw.test.example")
        // DPR/DPA when the gateway stopped; the server forgot the peer.
        #expect(gateway.events("dpa").first?["result_code"] == "2001")
        #expect(try await eventually { server.openPeers.isEmpty ? true : nil } == true)

        // What our server decoded from python-diameter's CCRs.
        let requests = handler.received.withLockedValue { $0 }
        #expect(requests.allSatisfy { $0.peer == DiameterPeer(originHost: "pgw.test.example", originRealm: "gw.example") })
        let callRequest = try #require(requests.first { $0.request.sessionID.contains(";call;") }?.request)
        #expect(callRequest.msisdn == "8613800138000" && callRequest.serviceContextID == "32260@3gpp.org")
        #expect(callRequest.calledParty == CalledParty(raw: "tel:+86-139-0013-9000", source: .ims))
        #expect(callRequest.calledParty?.normalized == "+8613900139000")
        #expect(callRequest.eventTimestamp != nil && callRequest.multipleServicesIndicator)
        #expect(callRequest.services.first?.requested == ServiceUnits(time: 60))
        let callUpdate = try #require(requests.first { $0.request.sessionID.contains(";call;") && $0.request.requestType == .update }?.request)
        #expect(callUpdate.services.first?.used == [UsedServiceUnit(units: ServiceUnits(time: 60))])
        #expect(callUpdate.services.first?.reportingReason == .quotaExhausted)
        let smsRequest = try #require(requests.first { $0.request.requestType == .event }?.request)
        #expect(smsRequest.requestedAction == .directDebiting && smsRequest.serviceContextID == "32274@3gpp.org")
        #expect(smsRequest.calledParty == CalledParty(raw: "+8613900139000", source: .sms))
        let dataRequest = try #require(requests.first { $0.request.sessionID.contains(";data;") }?.request)
        #expect(dataRequest.visitedNetwork == "44010" && dataRequest.services.first?.requested == ServiceUnits(totalOctets: 60))
        let reauthorised = try #require(requests.first { $0.request.sessionID.contains(";data;") && $0.request.requestNumber == 3 }?.request)
        #expect(reauthorised.services.first?.reportingReason == .forcedReauthorisation)
        await server.shutdown()
        gateway.process.waitUntilExit()
        #expect(gateway.process.terminationStatus == 0, "\(gateway.transcript)")
    }
}
