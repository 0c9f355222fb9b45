import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

@testable import RechargeDiameter

/// The test OCS: grants fixed units from a toy counter per subscriber and sends a final unit when the counter runs
/// out. Only in the tests: the real engine (rating, reservations in the ledger) is RechargeCore's.
final class ToyCounterHandler: CreditControlHandler {
    struct Record: Sendable {
        var request: CreditControlRequest
        var peer: DiameterPeer
    }

    let remaining: NIOLockedValueBox<[String: UInt64]>
    let received = NIOLockedValueBox<[Record]>([])
    let grant: UInt64
    let delays: [String: Duration]

    init(units: UInt64 = 150, grant: UInt64 = 60, delays: [String: Duration] = [:]) {
        remaining = NIOLockedValueBox(["default": units])
        self.grant = grant
        self.delays = delays
    }

    func creditControl(_ request: CreditControlRequest, peer: DiameterPeer) async -> CreditControlAnswer {
        received.withLockedValue { $0.append(Record(request: request, peer: peer)) }
        if let delay = delays[request.sessionID] { try? await Task.sleep(for: delay) }
        let grant = grant
        return remaining.withLockedValue { counters -> CreditControlAnswer in
            var left = counters[request.msisdn ?? "", default: counters["default"] ?? 0]
            func use(_ units: ServiceUnits?) {
                let spent = UInt64(units?.time ?? 0) + (units?.totalOctets ?? 0) + (units?.serviceSpecificUnits ?? 0)
                left = left > spent ? left - spent : 0
            }
            var services: [MSCCAnswer] = []
            if request.requestType == .event {
                let cost = request.services.first?.requested?.serviceSpecificUnits ?? request.requested?.serviceSpecificUnits ?? 1
                guard left >= cost else {
                    counters[request.msisdn ?? ""] = left
                    return CreditControlAnswer(resultCode: .creditLimitReached)
                }
                left -= cost
                counters[request.msisdn ?? ""] = left
                return CreditControlAnswer(resultCode: .success, granted: ServiceUnits(serviceSpecificUnits: cost))
            }
            for service in request.services {
                for used in service.used { use(used.units) }
                guard service.requested != nil, request.requestType != .termination else {
                    services.append(MSCCAnswer(ratingGroup: service.ratingGroup, resultCode: .success))
                    continue
                }
                guard left > 0 else {
                    services.append(MSCCAnswer(ratingGroup: service.ratingGroup, resultCode: .creditLimitReached))
                    continue
                }
                let amount = min(grant, left)
                let isData = (service.requested?.totalOctets != nil) || request.visitedNetwork != nil
                let units = isData ? ServiceUnits(totalOctets: amount) : ServiceUnits(time: UInt32(amount))
                let final = amount == left
                services.append(MSCCAnswer(
                    ratingGroup: service.ratingGroup, resultCode: .success, granted: units, validityTime: 3_600,
                    finalUnit: final
                        ? (isData
                            ? FinalUnitIndication(action: .redirect, redirectServer: RedirectServer(address: "https://top.up.example/"))
                            : FinalUnitIndication(action: .terminate))
                        : nil))
            }
            for used in request.used { use(used.units) }
            counters[request.msisdn ?? ""] = left
            return CreditControlAnswer(resultCode: .success, services: services)
        }
    }
}

/// A raw TCP peer: sends any bytes and keeps every message it receives, for the malformed-input and watchdog tests.
final class RawPeer: Sendable {
    let channel: any Channel
    let messages = NIOLockedValueBox<[DiameterMessage]>([])

    init(port: Int) async throws {
        let box = messages
        channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers(
                        ByteToMessageHandler(DiameterFrameDecoder(maximumMessageSize: 1 << 20)), Collector(box: box))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
    }

    func send(_ bytes: [UInt8]) async throws { try await channel.writeAndFlush(ByteBuffer(bytes: bytes)) }
    func send(_ message: DiameterMessage) async throws { try await send(encoded(message)) }

    /// The first received message matching `predicate`, waiting up to `timeout`.
    func received(timeout: Duration = .seconds(5), where predicate: @escaping (DiameterMessage) -> Bool) async throws -> DiameterMessage? {
        try await eventually(timeout: timeout) { self.messages.withLockedValue { $0.first(where: predicate) } }
    }

    /// True once the server closed the connection (within `timeout`).
    func closedByServer(timeout: Duration = .seconds(5)) async throws -> Bool {
        try await eventually(timeout: timeout) { self.channel.isActive ? nil : true } ?? false
    }

    final class Collector: ChannelInboundHandler {
        typealias InboundIn = DiameterFrame
        let box: NIOLockedValueBox<[DiameterMessage]>
        init(box: NIOLockedValueBox<[DiameterMessage]>) { self.box = box }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            if case .message(let bytes) = unwrapInboundIn(data), let message = try? DiameterCodec.decode(bytes) {
                box.withLockedValue { $0.append(message) }
            }
        }
    }
}

func eventually<T>(timeout: Duration = .seconds(5), _ probe: () async throws -> T?) async throws -> T? {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if let value = try await probe() { return value }
        try await Task.sleep(for: .milliseconds(20))
    }
    return try await probe()
}

let gatewayIdentity = DiameterIdentity(originHost: "pgw.example", originRealm: "example", productName: "test gateway")

func ccr(_ session: String, _ type: CCRequestType, _ number: UInt32, msisdn: String = "8613800138000", services: [MSCCRequest]) -> CreditControlRequest {
    CreditControlRequest(
        sessionID: session, originHost: gatewayIdentity.originHost, originRealm: gatewayIdentity.originRealm, destinationRealm: "test.example",
        serviceContextID: "32260@3gpp.org", requestType: type, requestNumber: number,
        subscriptionIDs: [SubscriptionID(type: .e164, data: msisdn)], services: services)
}

func startServer(
    _ handler: some CreditControlHandler, configure: (inout DiameterServerConfiguration) -> Void = { _ in }
) async throws -> (DiameterServer, Int) {
    var configuration = DiameterServerConfiguration(host: "127.0.0.1", port: 0, identity: ocsIdentity)
    configure(&configuration)
    var logger = Logger(label: "test.diameter")
    logger.logLevel = .critical
    let server = DiameterServer(configuration: configuration, handler: handler, logger: logger)
    let port = try await server.start()
    return (server, port)
}

@Suite("Diameter server and client over TCP")
struct DiameterServerTests {
    @Test func aWholeCallWithWatchdogReAuthAndDisconnect() async throws {
        let handler = ToyCounterHandler(units: 150)
        let (server, port) = try await startServer(handler)
        let reAuths = NIOLockedValueBox<[ReAuthRequest]>([])
        let client = try await DiameterClient.connect(host: "127.0.0.1", port: port, identity: gatewayIdentity) { request in
            reAuths.withLockedValue { $0.append(request) }
            return .success
        }
        #expect(client.peer == DiameterPeer(originHost: "ocs.test.example", originRealm: "test.example"))
        #expect(try await eventually { server.openPeers.isEmpty ? nil : server.openPeers } == [DiameterPeer(originHost: "pgw.example", originRealm: "example")])

        let initial = try await client.creditControl(ccr("call;1", .initial, 0, services: [MSCCRequest(ratingGroup: 1, requested: ServiceUnits(time: 60))]))
        #expect(initial.resultCode == .success && initial.sessionID == "call;1" && initial.requestType == .initial && initial.requestNumber == 0)
        #expect(initial.services.first?.granted == ServiceUnits(time: 60) && initial.services.first?.finalUnit == nil)
        let update = try await client.creditControl(ccr("call;1", .update, 1, services: [
            MSCCRequest(ratingGroup: 1, requested: ServiceUnits(), used: [UsedServiceUnit(units: ServiceUnits(time: 60), reportingReason: .quotaExhausted)]),
        ]))
        // 150 − 60 used = 90 left: another 60, not yet final.
        #expect(update.services.first?.granted == ServiceUnits(time: 60) && update.services.first?.finalUnit == nil)
        let last = try await client.creditControl(ccr("call;1", .update, 2, services: [
            MSCCRequest(ratingGroup: 1, requested: ServiceUnits(), used: [UsedServiceUnit(units: ServiceUnits(time: 60))]),
        ]))
        #expect(last.services.first?.granted == ServiceUnits(time: 30) && last.services.first?.finalUnit?.action == .terminate)

        #expect(try await client.watchdog() == 2001)
        #expect(try await server.reAuth(sessionID: "call;1", peerOriginHost: "pgw.example", destinationRealm: "example") == 2001)
        #expect(reAuths.withLockedValue { $0 } == [
            ReAuthRequest(sessionID: "call;1", originHost: "ocs.test.example", originRealm: "test.example", destinationRealm: "example", destinationHost: "pgw.example"),
        ])
        await #expect(throws: DiameterError.unknownPeer("nobody")) {
            try await server.reAuth(sessionID: "x", peerOriginHost: "nobody", destinationRealm: "example")
        }

        let termination = try await client.creditControl(ccr("call;1", .termination, 3, services: [
            MSCCRequest(ratingGroup: 1, used: [UsedServiceUnit(units: ServiceUnits(time: 30), reportingReason: .final)]),
        ]))
        #expect(termination.resultCode == .success && termination.requestType == .termination)
        #expect(handler.received.withLockedValue { $0.map(\.request.requestNumber) } == [0, 1, 2, 3])
        #expect(handler.received.withLockedValue { $0.allSatisfy { $0.peer.originHost == "pgw.example" } })

        await client.disconnect()
        #expect(try await eventually { server.openPeers.isEmpty ? true : nil } == true)
        await server.shutdown()
    }

    @Test func aSlowRequestDoesNotHoldUpTheOthersOnTheSameConnection() async throws {
        let handler = ToyCounterHandler(units: 1_000_000, delays: ["slow;1": .milliseconds(800)])
        let (server, port) = try await startServer(handler)
        let client = try await DiameterClient.connect(host: "127.0.0.1", port: port, identity: gatewayIdentity)
        let order = NIOLockedValueBox<[String]>([])
        try await withThrowingTaskGroup(of: Void.self) { group in
            for session in ["slow;1", "fast;1", "fast;2", "fast;3"] {
                group.addTask {
                    let answer = try await client.creditControl(ccr(session, .initial, 0, services: [MSCCRequest(ratingGroup: 1, requested: ServiceUnits(time: 1))]))
                    #expect(answer.sessionID == session)  // matched by hop-by-hop id, not by arrival order
                    order.withLockedValue { $0.append(session) }
                }
                if session == "slow;1" { try await Task.sleep(for: .milliseconds(50)) }
            }
            try await group.waitForAll()
        }
        #expect(order.withLockedValue { $0.last } == "slow;1")
        await client.disconnect()
        await server.shutdown()
    }

    /// 600 CCRs at once over three connections, with handler delays that reorder them: every answer carries its own
    /// request's session id and number (hop-by-hop matching on both sides), and the server saw each exactly once.
    @Test func manyConcurrentRequestsOnSeveralConnectionsAreEachAnsweredOnce() async throws {
        let handler = ToyCounterHandler(units: .max / 2, delays: Dictionary(uniqueKeysWithValues: (0..<600).filter { $0 % 7 == 0 }.map { ("s;\($0)", Duration.milliseconds(30)) }))
        let (server, port) = try await startServer(handler)
        var clients: [DiameterClient] = []
        for index in 0..<3 {
            clients.append(try await DiameterClient.connect(
                host: "127.0.0.1", port: port, identity: DiameterIdentity(originHost: "pgw\(index).example", originRealm: "example")))
        }
        let all = clients
        let mismatches = try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<600 {
                group.addTask {
                    let number = UInt32(index % 5)
                    let answer = try await all[index % 3].creditControl(ccr("s;\(index)", .update, number, services: [MSCCRequest(ratingGroup: 1, requested: ServiceUnits(time: 1))]))
                    return answer.sessionID == "s;\(index)" && answer.requestNumber == number && answer.resultCode == .success ? 0 : 1
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(mismatches == 0)
        let seen = handler.received.withLockedValue { $0.map(\.request.sessionID) }
        #expect(seen.count == 600 && Set(seen).count == 600)
        #expect(Set(handler.received.withLockedValue { $0.map(\.peer.originHost) }) == ["pgw0.example", "pgw1.example", "pgw2.example"])
        for client in clients { await client.disconnect() }
        await server.shutdown()
    }

    @Test func requestsBeyondThePerConnectionLimitAreTooBusy() async throws {
        let handler = ToyCounterHandler(units: 1_000_000, delays: ["a;1": .milliseconds(600), "b;1": .milliseconds(600)])
        let (server, port) = try await startServer(handler) { $0.maximumOutstandingRequestsPerConnection = 2 }
        let client = try await DiameterClient.connect(host: "127.0.0.1", port: port, identity: gatewayIdentity)
        async let a = client.creditControl(ccr("a;1", .initial, 0, services: [MSCCRequest(ratingGroup: 1, requested: ServiceUnits())]))
        async let b = client.creditControl(ccr("b;1", .initial, 0, services: [MSCCRequest(ratingGroup: 1, requested: ServiceUnits())]))
        try await Task.sleep(for: .milliseconds(200))
        let c = try await client.creditControl(ccr("c;1", .initial, 0, services: [MSCCRequest(ratingGroup: 1, requested: ServiceUnits())]))
        #expect(c.resultCode == .tooBusy)
        #expect(try await a.resultCode == .success)
        #expect(try await b.resultCode == .success)
        // Once they are answered, there is room again.
        let d = try await client.creditControl(ccr("d;1", .initial, 0, services: [MSCCRequest(ratingGroup: 1, requested: ServiceUnits())]))
        #expect(d.resultCode == .success)
        #expect(handler.received.withLockedValue { $0.map(\.request.sessionID) }.contains("c;1") == false)
        await client.disconnect()
        await server.shutdown()
    }

    @Test func connectionsBeyondTheCapAreClosed() async throws {
        let (server, port) = try await startServer(ToyCounterHandler()) { $0.maximumConnections = 1 }
        let first = try await DiameterClient.connect(host: "127.0.0.1", port: port, identity: gatewayIdentity)
        await #expect(throws: (any Error).self) {
            _ = try await DiameterClient.connect(host: "127.0.0.1", port: port, identity: gatewayIdentity, requestTimeout: .seconds(2))
        }
        #expect(try await first.watchdog() == 2001)
        await first.disconnect()
        // The slot is free again once the first has gone.
        let again = try await eventually { try? await DiameterClient.connect(host: "127.0.0.1", port: port, identity: gatewayIdentity, requestTimeout: .seconds(1)) }
        #expect(again != nil)
        await again?.disconnect()
        await server.shutdown()
    }

    @Test func aCERWithoutCreditControlIsRefused() async throws {
        let (server, port) = try await startServer(ToyCounterHandler())
        let peer = try await RawPeer(port: port)
        try await peer.send(cer(applications: [16_777_238]))
        let cea = try await peer.received { $0.commandCode == 257 }
        #expect(cea?.resultCode == 5010)
        #expect(try await peer.closedByServer())
        await server.shutdown()
    }

    @Test func aRequestBeforeCERClosesTheConnection() async throws {
        let (server, port) = try await startServer(ToyCounterHandler())
        let peer = try await RawPeer(port: port)
        try await peer.send(request(280))
        #expect(try await peer.closedByServer())
        #expect(peer.messages.withLockedValue { $0.isEmpty })
        await server.shutdown()
    }

    @Test func aTenMegabyteHeaderTrickledInIsAnswered5015AndClosed() async throws {
        let handler = ToyCounterHandler()
        let (server, port) = try await startServer(handler) { $0.maximumMessageSize = 65_536 }
        let peer = try await RawPeer(port: port)
        try await peer.send(cer())
        #expect(try await peer.received { $0.commandCode == 257 }?.resultCode == 2001)
        try await peer.send(hex("01 A00000 C0 000110 00000004 00000077 00000078"))
        var sent = 0
        while peer.channel.isActive && sent < 200 {
            try? await peer.send([UInt8](repeating: 0x41, count: 1_024))
            sent += 1
        }
        let answer = try await peer.received { $0.commandCode == 272 }
        #expect(answer?.resultCode == 5015 && answer?.hopByHopID == 0x77 && answer?.endToEndID == 0x78)
        #expect(try await peer.closedByServer())
        #expect(handler.received.withLockedValue { $0.isEmpty })
        await server.shutdown()
    }

    @Test func unknownCommandsAndMandatoryAVPsAreAnsweredAndTheConnectionStays() async throws {
        let handler = ToyCounterHandler()
        let (server, port) = try await startServer(handler)
        let peer = try await RawPeer(port: port)
        try await peer.send(cer())
        _ = try await peer.received { $0.commandCode == 257 }
        try await peer.send(request(274, application: 4, hopByHop: 501, avps: [.utf8(.sessionID, "s;asr")]))
        let unsupported = try await peer.received { $0.hopByHopID == 501 }
        #expect(unsupported?.resultCode == 3001 && unsupported?.flags.contains(.error) == true)
        // The hand-made CCR with an unknown AVP (code 99999, M bit) appended.
        var bytes = handCCR + hex("0001869F 40 00000C 00000001")
        bytes[1...3] = [0x00, 0x01, 0x34]
        try await peer.send(bytes)
        let avpUnsupported = try await peer.received { $0.hopByHopID == 1 }
        #expect(avpUnsupported?.resultCode == 5001 && avpUnsupported?.sessionID == "s;1", "\(String(describing: avpUnsupported))")
        #expect(avpUnsupported?.first(.failedAVP)?.members.first?.code == 99_999)
        // An AVP length past the end of the message.
        try await peer.send(hex("01 000020 C0 000110 00000004 00000009 00000009 00000107 40 0000FF 6777 0000"))
        let badLength = try await peer.received { $0.hopByHopID == 9 }
        #expect(badLength?.resultCode == 5014 && badLength?.first(.failedAVP) != nil)
        // A CCR without Service-Context-Id: 5005.
        var message = try decode(handCCR)
        message.avps.removeAll { $0.code == 461 }
        message.hopByHopID = 10
        try await peer.send(message)
        let missing = try await peer.received { $0.hopByHopID == 10 }
        #expect(missing?.resultCode == 5005 && missing?.first(.failedAVP)?.members.first?.code == 461)
        // Still open: a DWR is answered.
        try await peer.send(request(280, hopByHop: 502))
        #expect(try await peer.received { $0.hopByHopID == 502 }?.resultCode == 2001)
        #expect(handler.received.withLockedValue { $0.isEmpty })  // nothing malformed reached the engine
        await server.shutdown()
    }

    @Test func aSilentPeerGetsADWRAndIsClosedWhenItDoesNotAnswer() async throws {
        let (server, port) = try await startServer(ToyCounterHandler()) { $0.watchdogInterval = .milliseconds(200) }
        let peer = try await RawPeer(port: port)
        try await peer.send(cer())
        let dwr = try await peer.received { $0.commandCode == 280 && $0.isRequest }
        #expect(dwr?.first(.originHost)?.utf8 == "ocs.test.example")
        #expect(try await peer.closedByServer())
        await server.shutdown()
    }

    @Test func theClientAnswersTheServersWatchdogAndStaysOpen() async throws {
        let (server, port) = try await startServer(ToyCounterHandler()) { $0.watchdogInterval = .milliseconds(150) }
        let client = try await DiameterClient.connect(host: "127.0.0.1", port: port, identity: gatewayIdentity)
        try await Task.sleep(for: .milliseconds(1_000))
        #expect(client.isActive)
        await client.disconnect()
        await server.shutdown()
    }

    @Test func shutdownSendsDPRToOpenPeers() async throws {
        let (server, port) = try await startServer(ToyCounterHandler())
        let peer = try await RawPeer(port: port)
        try await peer.send(cer())
        _ = try await peer.received { $0.commandCode == 257 }
        let client = try await DiameterClient.connect(host: "127.0.0.1", port: port, identity: gatewayIdentity)
        let stopping = Task { await server.shutdown(grace: .seconds(2)) }
        let dpr = try await peer.received { $0.commandCode == 282 && $0.isRequest }
        #expect(dpr?.first(.disconnectCause)?.unsigned32 == 0)
        try await peer.send(DiameterIdentity(originHost: "raw", originRealm: "example").answer(to: dpr!.header, requestAVPs: [], code: .success))
        #expect(try await peer.closedByServer())
        await client.closed()  // the client answered DPR with DPA and closed
        await stopping.value
        try await server.run()  // returns at once after shutdown
    }
}
