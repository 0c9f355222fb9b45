import NIOCore
import NIOEmbedded
import Testing

@testable import RechargeDiameter

let ocsIdentity = DiameterIdentity(
    originHost: "ocs.test.example", originRealm: "test.example", vendorID: 0, productName: "Recharge", originStateID: 7)

func cer(applications: [UInt32] = [4], vendorSpecific: [UInt32] = [], host: String? = "pgw.example", hopByHop: UInt32 = 100) -> DiameterMessage {
    var avps: [DiameterAVP] = []
    if let host { avps.append(.utf8(.originHost, host)) }
    avps.append(.utf8(.originRealm, "example"))
    avps.append(.address(.hostIPAddress, DiameterAddress(ipv4: "10.0.0.1")!))
    avps.append(.unsigned32(.vendorID, 10415))
    avps.append(.utf8(.productName, "gw"))
    for application in applications { avps.append(.unsigned32(.authApplicationID, application)) }
    for application in vendorSpecific {
        avps.append(.grouped(.vendorSpecificApplicationID, [.unsigned32(.vendorID, 10415), .unsigned32(.authApplicationID, application)]))
    }
    return DiameterMessage(flags: .request, commandCode: 257, applicationID: 0, hopByHopID: hopByHop, endToEndID: hopByHop + 1, avps: avps)
}

func request(_ command: UInt32, application: UInt32 = 0, hopByHop: UInt32 = 200, avps: [DiameterAVP] = []) -> DiameterMessage {
    DiameterMessage(
        flags: .request, commandCode: command, applicationID: application, hopByHopID: hopByHop, endToEndID: hopByHop &* 3,
        avps: [.utf8(.originHost, "pgw.example"), .utf8(.originRealm, "example")] + avps)
}

extension DiameterPeerStateMachine.Action {
    var sent: DiameterMessage? {
        switch self {
        case .send(let message), .sendAndClose(let message), .open(_, let message): message
        case .none, .close, .dispatch, .answerReceived: nil
        }
    }

    var closes: Bool {
        switch self {
        case .sendAndClose, .close: true
        case .none, .send, .open, .dispatch, .answerReceived: false
        }
    }
}

@Suite("Diameter peer state machine")
struct DiameterPeerStateMachineTests {
    func opened() -> DiameterPeerStateMachine {
        var machine = DiameterPeerStateMachine(identity: ocsIdentity, seed: 1)
        _ = machine.received(cer())
        return machine
    }

    @Test func aCERWithDCCAOpensWithACEAThatEchoesTheIdentifiersAndAdvertisesUs() throws {
        var machine = DiameterPeerStateMachine(identity: ocsIdentity, seed: 1)
        let action = machine.received(cer(hopByHop: 42))
        guard case .open(let peer, let cea) = action else { Issue.record("not opened: \(action)"); return }
        #expect(peer == DiameterPeer(originHost: "pgw.example", originRealm: "example"))
        #expect(machine.state == .open(peer))
        #expect(!cea.isRequest && cea.commandCode == 257 && cea.hopByHopID == 42 && cea.endToEndID == 43)
        #expect(cea.resultCode == 2001)
        #expect(cea.first(.originHost)?.utf8 == "ocs.test.example" && cea.first(.originRealm)?.utf8 == "test.example")
        #expect(cea.first(.hostIPAddress)?.address == DiameterAddress(ipv4: "127.0.0.1"))
        #expect(cea.first(.vendorID)?.unsigned32 == 0 && cea.first(.productName)?.utf8 == "Recharge")
        #expect(cea.first(.authApplicationID)?.unsigned32 == 4 && cea.first(.supportedVendorID)?.unsigned32 == 10415)
        #expect(cea.first(.originStateID)?.unsigned32 == 7)
    }

    @Test func aCERWithDCCAInAVendorSpecificApplicationOrAsRelayOpens() {
        var vendorSpecific = DiameterPeerStateMachine(identity: ocsIdentity)
        #expect(vendorSpecific.received(cer(applications: [], vendorSpecific: [4])).sent?.resultCode == 2001)
        var relay = DiameterPeerStateMachine(identity: ocsIdentity)
        #expect(relay.received(cer(applications: [0xFFFF_FFFF])).sent?.resultCode == 2001)
    }

    @Test func aCERWithoutDCCAIsAnsweredNoCommonApplicationAndClosed() {
        var machine = DiameterPeerStateMachine(identity: ocsIdentity)
        let action = machine.received(cer(applications: [16_777_238]))
        #expect(action.sent?.resultCode == 5010 && action.closes)
        #expect(machine.state == .closed)
    }

    @Test func aCERWithoutOriginHostIsMissingAVPAndClosed() {
        var machine = DiameterPeerStateMachine(identity: ocsIdentity)
        let action = machine.received(cer(host: nil))
        #expect(action.sent?.resultCode == 5005 && action.closes)
        #expect(action.sent?.first(.failedAVP)?.first(.originHost) != nil)
    }

    @Test func anythingBeforeCERClosesWithoutAnswer() {
        for message in [request(280), request(272, application: 4), request(282)] {
            var machine = DiameterPeerStateMachine(identity: ocsIdentity)
            let action = machine.received(message)
            guard case .close = action else { Issue.record("\(message.commandCode): \(action)"); continue }
            #expect(machine.state == .closed)
        }
    }

    @Test func watchdogRequestIsAnswered() {
        var machine = opened()
        let dwa = machine.received(request(280, hopByHop: 77)).sent
        #expect(dwa?.commandCode == 280 && dwa?.isRequest == false && dwa?.resultCode == 2001 && dwa?.hopByHopID == 77)
        #expect(dwa?.first(.originStateID)?.unsigned32 == 7)
    }

    @Test func disconnectPeerRequestIsAnsweredThenClosed() {
        var machine = opened()
        let action = machine.received(request(282, avps: [.enumerated(.disconnectCause, 0)]))
        #expect(action.sent?.commandCode == 282 && action.sent?.resultCode == 2001 && action.closes)
        #expect(machine.state == .closed)
    }

    @Test func creditControlRequestsAreDispatched() {
        var machine = opened()
        guard case .dispatch(let message) = machine.received(request(272, application: 4, hopByHop: 9)) else {
            Issue.record("not dispatched")
            return
        }
        #expect(message.hopByHopID == 9)
    }

    @Test func unknownCommandIs3001WithTheEBitAndUnknownApplicationIs3007() {
        var machine = opened()
        let unknownCommand = machine.received(request(274, application: 4, avps: [.utf8(.sessionID, "s;9")])).sent
        #expect(unknownCommand?.resultCode == 3001 && unknownCommand?.flags.contains(.error) == true)
        #expect(unknownCommand?.avps.first?.utf8 == "s;9")  // Session-Id first
        let unknownBase = machine.received(request(999)).sent
        #expect(unknownBase?.resultCode == 3001 && unknownBase?.flags.contains(.error) == true)
        let unknownApplication = machine.received(request(316, application: 16_777_251)).sent
        #expect(unknownApplication?.resultCode == 3007 && unknownApplication?.flags.contains(.error) == true)
        #expect(machine.peer != nil)  // still open
    }

    @Test func aSecondCERIsRefusedButTheConnectionStays() {
        var machine = opened()
        let action = machine.received(cer())
        #expect(action.sent?.resultCode == 5012 && !action.closes)
        #expect(machine.peer != nil)
    }

    @Test func watchdogSendsDWRAfterASilentIntervalAndClosesWhenItIsNotAnswered() {
        var machine = opened()
        // The CER counted as traffic: the first tick only clears the flag.
        guard case .none = machine.watchdogTick() else { Issue.record("DWR too early"); return }
        let dwr = machine.watchdogTick().sent
        #expect(dwr?.isRequest == true && dwr?.commandCode == 280 && dwr?.applicationID == 0)
        #expect(dwr?.first(.originHost)?.utf8 == "ocs.test.example")
        let close = machine.watchdogTick()
        guard case .close = close else { Issue.record("no close: \(close)"); return }
        #expect(machine.state == .closed)
    }

    @Test func anyTrafficAnswersTheWatchdog() throws {
        var machine = opened()
        _ = machine.watchdogTick()
        let dwr = try #require(machine.watchdogTick().sent)
        let dwa = DiameterIdentity(originHost: "pgw.example", originRealm: "example")
            .answer(to: dwr.header, requestAVPs: [], code: .success)
        guard case .none = machine.received(dwa) else { Issue.record("DWA not absorbed"); return }
        guard case .none = machine.watchdogTick() else { Issue.record("closed despite the DWA"); return }
        #expect(machine.peer != nil)
    }

    @Test func aPeerThatNeverSendsItsCERIsClosedOnTheFirstTick() {
        var machine = DiameterPeerStateMachine(identity: ocsIdentity)
        guard case .close = machine.watchdogTick() else { Issue.record("not closed"); return }
    }

    @Test func ourDisconnectSendsDPRAndClosesOnTheDPA() throws {
        var machine = opened()
        let dpr = try #require(machine.disconnect().sent)
        #expect(dpr.isRequest && dpr.commandCode == 282 && dpr.first(.disconnectCause)?.unsigned32 == 0)
        if case .closing = machine.state {} else { Issue.record("not closing") }
        let dpa = DiameterIdentity(originHost: "pgw.example", originRealm: "example").answer(to: dpr.header, requestAVPs: [], code: .success)
        guard case .close = machine.received(dpa) else { Issue.record("not closed on DPA"); return }
    }

    @Test func answersToOurRequestsAreHandedBack() {
        var machine = opened()
        let raa = DiameterMessage(flags: [], commandCode: 258, applicationID: 4, hopByHopID: 5, endToEndID: 6, avps: [.unsigned32(.resultCode, 2001)])
        guard case .answerReceived(let answer) = machine.received(raa) else { Issue.record("RAA lost"); return }
        #expect(answer.hopByHopID == 5)
    }

    @Test func decodeErrorsInRequestsAreAnsweredWithTheirCodeAndFailedAVP() throws {
        var machine = opened()
        let bytes = hex("01 00002C C0 000110 00000004 00000001 00000001 00000107 40 00000B 733B31 00 0001869F 40 00000C 00000001")
        let error = #expect(throws: DiameterDecodeError.self) { try decode(bytes) }
        let action = machine.received(error: try #require(error), framing: false)
        let answer = try #require(action.sent)
        #expect(!action.closes)
        #expect(answer.resultCode == 5001 && !answer.flags.contains(.error) && answer.hopByHopID == 1)
        #expect(answer.avps.first?.utf8 == "s;1")
        #expect(answer.first(.failedAVP)?.members.first?.code == 99_999)
        #expect(answer.first(.authApplicationID)?.unsigned32 == 4)
    }

    @Test func framingErrorsAreAnsweredAndClose() {
        var machine = opened()
        var error = DiameterDecodeError(.invalidMessageLength, "too long")
        error.header = DiameterHeader(flags: .request, commandCode: 272, applicationID: 4, hopByHopID: 3, endToEndID: 4)
        let action = machine.received(error: error, framing: true)
        #expect(action.sent?.resultCode == 5015 && action.sent?.hopByHopID == 3 && action.closes)
    }
}

@Suite("Diameter frame decoder")
struct DiameterFrameDecoderTests {
    func channel(maximum: Int = 1_024) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(DiameterFrameDecoder(maximumMessageSize: maximum)))
        return channel
    }

    @Test func messagesSplitAndJoinedAcrossReadsAreFramed() throws {
        let channel = try channel()
        let stream = handCCR + handCCR
        // 7-byte chunks: headers and AVPs split everywhere.
        var index = 0
        while index < stream.count {
            try channel.writeInbound(ByteBuffer(bytes: stream[index..<min(index + 7, stream.count)]))
            index += 7
        }
        for _ in 0..<2 {
            guard case .message(let bytes) = try channel.readInbound(as: DiameterFrame.self) else { Issue.record("no frame"); return }
            #expect(Array(bytes.readableBytesView) == handCCR)
        }
        #expect(try channel.readInbound(as: DiameterFrame.self) == nil)
    }

    @Test func aHeaderClaimingTenMegabytesIsRefusedAtTwentyBytesAndNothingMoreIsBuffered() throws {
        let channel = try channel(maximum: 65_536)
        // Length 0xA00000 (10 MiB), a CCR header, then trickled bytes.
        try channel.writeInbound(ByteBuffer(bytes: hex("01 A00000 C0")))
        #expect(try channel.readInbound(as: DiameterFrame.self) == nil)  // waits for the header only
        try channel.writeInbound(ByteBuffer(bytes: hex("000110 00000004 00000021 00000022")))
        guard case .invalid(let error) = try channel.readInbound(as: DiameterFrame.self) else { Issue.record("not refused"); return }
        #expect(error.resultCode == .invalidMessageLength && error.header?.hopByHopID == 0x21 && error.header?.commandCode == 272)
        for _ in 0..<1_000 {
            try channel.writeInbound(ByteBuffer(repeating: 0x41, count: 1_024))
        }
        #expect(try channel.readInbound(as: DiameterFrame.self) == nil)
    }

    /// The decoder itself, driven with our own buffer: after refusing it consumes every byte it is given, so the
    /// cumulation buffer cannot grow however much the peer sends.
    @Test func afterARefusalEveryByteIsDiscarded() throws {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(PassThrough())
        let context = try channel.pipeline.syncOperations.context(handlerType: PassThrough.self)
        var decoder = DiameterFrameDecoder(maximumMessageSize: 65_536)
        var buffer = ByteBuffer(bytes: hex("01 A00000 C0 000110 00000004 00000021 00000022"))
        #expect(try decoder.decode(context: context, buffer: &buffer) == .needMoreData)
        #expect(buffer.readableBytes == 0)
        guard case .invalid = try channel.readInbound(as: DiameterFrame.self) else { Issue.record("not refused"); return }
        for _ in 0..<100 {
            buffer.writeRepeatingByte(0x41, count: 100_000)
            #expect(try decoder.decode(context: context, buffer: &buffer) == .needMoreData)
            #expect(buffer.readableBytes == 0)
        }
        #expect(try channel.readInbound(as: DiameterFrame.self) == nil)
        // A normal decoder never holds more than one partial message: it waits, it does not copy.
        var fresh = DiameterFrameDecoder(maximumMessageSize: 65_536)
        var partial = ByteBuffer(bytes: handCCR.prefix(100))
        #expect(try fresh.decode(context: context, buffer: &partial) == .needMoreData)
        #expect(partial.readableBytes == 100)
    }

    @Test func lengthsUnderTwentyOrNotAMultipleOfFourAreRefused() throws {
        for header in ["01 000010 80 000118 00000000 00000001 00000001", "01 000016 80 000118 00000000 00000001 00000001", "02 000014 80 000118 00000000 00000001 00000001"] {
            let channel = try channel()
            try channel.writeInbound(ByteBuffer(bytes: hex(header)))
            guard case .invalid = try channel.readInbound(as: DiameterFrame.self) else { Issue.record("accepted \(header)"); continue }
        }
    }
}

extension DiameterFrame: Equatable {
    public static func == (lhs: DiameterFrame, rhs: DiameterFrame) -> Bool {
        switch (lhs, rhs) {
        case (.message(let a), .message(let b)): a == b
        case (.invalid(let a), .invalid(let b)): a.resultCode == b.resultCode
        default: false
        }
    }
}

final class PassThrough: ChannelInboundHandler {
    typealias InboundIn = DiameterFrame
}
