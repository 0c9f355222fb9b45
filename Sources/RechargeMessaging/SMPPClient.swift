import Logging
import NIOCore

/// An SMPP 3.4 ESME bound as a transceiver: submits SMS (GSM 7-bit or UCS2, concatenated when long), keeps
/// the link alive with enquire_link, answers deliver_sm and surfaces delivery receipts on `inbound`, and
/// reconnects and re-binds with back-off whenever the link drops.
///
/// Run it with `run()` (until `shutdown()`); `submit` may be called from anywhere at any time and waits
/// for a bound session. At most `windowSize` requests are outstanding. A part that was never written goes
/// out after a reconnect; a part written but unanswered when the link drops fails with
/// `SMPPError.connectionLost` rather than being sent again, because the SMSC may already have taken it.
public actor SMPPClient {
    /// Delivery receipts and mobile-originated messages, in arrival order. Finishes when `run()` returns.
    public nonisolated let inbound: AsyncStream<SMPPInbound>
    public private(set) var statistics = SMPPClientStatistics()

    private let inboundContinuation: AsyncStream<SMPPInbound>.Continuation
    private let configuration: SMPPConfiguration
    private let group: any EventLoopGroup
    private let logger: Logger
    private var machine: SMPPSessionStateMachine
    private var channel: (any Channel)?
    private var sequenceNumbers = SMPPSequenceNumbers()
    private var pending: [UInt32: PendingRequest] = [:]
    private var outstanding = 0
    private var slotWaiters: [CheckedContinuation<Void, Never>] = []
    private var bindWaiters: [UInt64: BindWaiter] = [:]
    private var nextWaiterID: UInt64 = 0
    private var nextReference: UInt8
    private var reconnectSleep: Task<Void, Never>?
    private var hasRun = false

    private struct PendingRequest {
        var continuation: CheckedContinuation<SMPPPDU, any Error>
        var timeout: Task<Void, Never>
    }

    private struct BindWaiter {
        var continuation: CheckedContinuation<Void, any Error>
        var timeout: Task<Void, Never>
    }

    /// Why a single request got no answer; turned into `SMPPError` with the part number by the caller.
    private enum RequestFailure: Error {
        case notSent
        case timeout
        case linkLost
    }

    /// `firstConcatenationReference` is injectable so tests can predict the UDH reference.
    public init(
        configuration: SMPPConfiguration, group: any EventLoopGroup, logger: Logger = Logger(label: "recharge.smpp"),
        firstConcatenationReference: UInt8 = .random(in: 0...255)
    ) {
        self.configuration = configuration
        self.group = group
        self.logger = logger
        self.machine = SMPPSessionStateMachine(backoff: configuration.reconnectBackoff)
        self.nextReference = firstConcatenationReference
        (inbound, inboundContinuation) = AsyncStream.makeStream(of: SMPPInbound.self, bufferingPolicy: .unbounded)
    }

    /// The session state, for health checks and tests.
    public var state: SMPPSessionStateMachine.State { machine.state }

    // MARK: Running the session

    /// Connects, binds and serves the session, reconnecting after every drop, until `shutdown()`.
    public func run() async {
        guard !hasRun else { return }
        hasRun = true
        defer { inboundContinuation.finish() }
        guard var action = try? machine.connectNow() else { return }
        while true {
            switch action {
            case .connect:
                action = await connectAndServe()
            case .reconnect(let delay):
                logger.info("SMPP reconnecting", metadata: ["after": "\(delay)"])
                await sleepUntilReconnect(delay)
                guard let next = try? machine.connectNow() else { return }  // stopped while waiting
                action = next
            case .finish, .none, .close, .sendBind, .sendUnbind, .startSession:
                failBindWaiters(with: SMPPError.shutdown)
                return
            }
        }
    }

    /// Unbinds politely when bound, closes the link and makes `run()` return. Waiting submits fail with
    /// `SMPPError.shutdown`.
    public func shutdown() async {
        let action = machine.stopRequested()
        failBindWaiters(with: SMPPError.shutdown)
        reconnectSleep?.cancel()
        switch action {
        case .sendUnbind:
            _ = try? await sendRequest(.unbind)
            _ = try? machine.unbindCompleted()
            try? await channel?.close()
        case .close:
            try? await channel?.close()
        default:
            break
        }
    }

    private func sleepUntilReconnect(_ delay: Duration) async {
        let sleeper = Task<Void, Never> {
            try? await Task.sleep(for: delay)
        }
        reconnectSleep = sleeper
        await sleeper.value
        reconnectSleep = nil
    }

    /// One link from connect to close; returns what the state machine wants next.
    private func connectAndServe() async -> SMPPSessionStateMachine.Action {
        let connection: SMPPConnection
        do {
            connection = try await SMPPConnection.open(configuration: configuration, group: group)
        } catch {
            statistics.failedConnectionAttempts += 1
            logger.warning("SMPP connect failed", metadata: ["error": "\(error)"])
            return (try? machine.connectFailed()) ?? .finish
        }
        guard (try? machine.connected()) == .sendBind else {
            // Stopped while the connection was being made.
            try? await connection.channel.close()
            return .finish
        }
        channel = connection.channel

        var afterClose: SMPPSessionStateMachine.Action?
        await withTaskGroup(of: Bool.self) { tasks in
            tasks.addTask {
                for await pdu in connection.inbound { await self.received(pdu) }
                await self.failPendingRequests()
                return true
            }
            afterClose = await bind()
            if afterClose == nil {
                tasks.addTask {
                    await self.keepAlive()
                    return false
                }
            } else {
                try? await connection.channel.close()
            }
            while let readerFinished = await tasks.next() {
                if readerFinished { break }
            }
            tasks.cancelAll()
        }
        channel = nil
        failPendingRequests()
        let lost = machine.linkLost()
        if let afterClose { return afterClose }
        if lost == .none { return machine.state == .stopped ? .finish : .none }
        logger.warning("SMPP link lost")
        return lost
    }

    /// Sends bind_transceiver; nil when bound, otherwise the action that follows the failure.
    private func bind() async -> SMPPSessionStateMachine.Action? {
        var bind = SMPPBind(
            systemID: configuration.systemID, password: configuration.password, systemType: configuration.systemType)
        bind.addressTON = 0
        bind.addressNPI = 0
        do {
            let response = try await sendRequest(.bindTransceiver(bind))
            guard response.status == .ok else {
                logger.error("SMPP bind refused", metadata: ["status": "\(response.status)"])
                return (try? machine.bindFailed()) ?? .finish
            }
        } catch {
            logger.warning("SMPP bind unanswered", metadata: ["error": "\(error)"])
            return (try? machine.bindFailed()) ?? .finish
        }
        guard (try? machine.bindAccepted()) == .startSession else { return .finish }
        statistics.successfulBinds += 1
        logger.info("SMPP bound", metadata: ["system_id": "\(configuration.systemID)"])
        for (_, waiter) in bindWaiters {
            waiter.timeout.cancel()
            waiter.continuation.resume()
        }
        bindWaiters.removeAll()
        return nil
    }

    private func keepAlive() async {
        while machine.isBound {
            do { try await Task.sleep(for: configuration.enquireLinkInterval) } catch { return }
            guard machine.isBound else { return }
            do {
                _ = try await sendRequest(.enquireLink)
                statistics.enquireLinksAnswered += 1
            } catch {
                logger.warning("SMPP enquire_link unanswered; dropping the link")
                try? await channel?.close()
                return
            }
        }
    }

    // MARK: Inbound

    private func received(_ pdu: SMPPPDU) {
        if pdu.isResponse {
            if let request = pending.removeValue(forKey: pdu.sequenceNumber) {
                request.timeout.cancel()
                request.continuation.resume(returning: pdu)
            } else {
                logger.debug("SMPP response to no request", metadata: ["sequence": "\(pdu.sequenceNumber)"])
            }
            return
        }
        switch pdu.body {
        case .deliverSM(let message):
            reply(.deliverSMResp(messageID: ""), to: pdu)
            deliver(message)
        case .enquireLink:
            reply(.enquireLinkResp, to: pdu)
        case .unbind:
            // The SMSC ends the session; answer, let the link close, and reconnect after the back-off.
            let channel = self.channel
            channel?.writeAndFlush(SMPPPDU(.unbindResp, sequenceNumber: pdu.sequenceNumber)).whenComplete { _ in
                channel?.close(promise: nil)
            }
        default:
            reply(.genericNack, to: pdu, status: .invalidCommandID)
        }
    }

    private func reply(_ body: SMPPPDU.Body, to request: SMPPPDU, status: SMPPCommandStatus = .ok) {
        channel?.writeAndFlush(SMPPPDU(body, sequenceNumber: request.sequenceNumber, status: status), promise: nil)
    }

    private func deliver(_ message: SMPPShortMessage) {
        let text =
            message.dataCoding == SMSDataCoding.ucs2.rawValue
            ? SMSText.decode(message.shortMessage, coding: .ucs2)
            : String(decoding: message.shortMessage, as: UTF8.self)
        if message.isDeliveryReceipt {
            guard let receipt = SMPPDeliveryReceipt.parse(text: text, tlvs: message.tlvs) else {
                logger.warning("SMPP receipt without a message id", metadata: ["text": "\(text)"])
                return
            }
            statistics.receipts += 1
            inboundContinuation.yield(.deliveryReceipt(receipt))
        } else {
            inboundContinuation.yield(
                .mobileOriginated(
                    source: message.sourceAddress, destination: message.destinationAddress, text: text))
        }
    }

    // MARK: Requests

    private func sendRequest(_ body: SMPPPDU.Body) async throws -> SMPPPDU {
        guard let channel else { throw RequestFailure.notSent }
        let sequenceNumber = sequenceNumbers.next()
        let pdu = SMPPPDU(body, sequenceNumber: sequenceNumber)
        let timeout = configuration.responseTimeout
        return try await withCheckedThrowingContinuation { continuation in
            let timer = Task { [weak self] in
                do { try await Task.sleep(for: timeout) } catch { return }
                await self?.failRequest(sequenceNumber, with: .timeout)
            }
            pending[sequenceNumber] = PendingRequest(continuation: continuation, timeout: timer)
            channel.writeAndFlush(pdu).whenFailure { [weak self] _ in
                Task { await self?.failRequest(sequenceNumber, with: .notSent) }
            }
        }
    }

    /// The link is gone: whatever was sent on it will never be answered.
    private func failPendingRequests() {
        channel = nil
        for (_, request) in pending {
            request.timeout.cancel()
            request.continuation.resume(throwing: RequestFailure.linkLost)
        }
        pending.removeAll()
    }

    private func failRequest(_ sequenceNumber: UInt32, with failure: RequestFailure) {
        guard let request = pending.removeValue(forKey: sequenceNumber) else { return }
        request.timeout.cancel()
        request.continuation.resume(throwing: failure)
    }

    private func waitUntilBound() async throws {
        switch machine.state {
        case .bound: return
        case .unbinding, .stopped: throw SMPPError.shutdown
        case .disconnected, .connecting, .binding: break
        }
        let id = nextWaiterID
        nextWaiterID += 1
        let wait = configuration.bindWaitTimeout
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let timer = Task { [weak self] in
                do { try await Task.sleep(for: wait) } catch { return }
                await self?.expireBindWaiter(id)
            }
            bindWaiters[id] = BindWaiter(continuation: continuation, timeout: timer)
        }
    }

    private func expireBindWaiter(_ id: UInt64) {
        guard let waiter = bindWaiters.removeValue(forKey: id) else { return }
        waiter.continuation.resume(throwing: SMPPError.notBound(waited: configuration.bindWaitTimeout))
    }

    private func failBindWaiters(with error: SMPPError) {
        for (_, waiter) in bindWaiters {
            waiter.timeout.cancel()
            waiter.continuation.resume(throwing: error)
        }
        bindWaiters.removeAll()
    }

    private func acquireSlot() async {
        if outstanding < configuration.windowSize {
            outstanding += 1
        } else {
            // The releasing request hands its slot straight to the first waiter.
            await withCheckedContinuation { slotWaiters.append($0) }
        }
        statistics.mostOutstanding = max(statistics.mostOutstanding, outstanding)
    }

    private func releaseSlot() {
        if slotWaiters.isEmpty {
            outstanding -= 1
        } else {
            slotWaiters.removeFirst().resume()
        }
    }

    // MARK: Submitting

    /// Sends the message, split into concatenated parts when it does not fit one SMS, and returns the SMSC's
    /// message id for each part. Throws `SMPPError`.
    public func submit(_ message: SMSMessage) async throws -> SMPPSubmission {
        let text: SMSText
        do { text = try SMSText(message.text) } catch { throw SMPPError.invalidText(error) }
        var reference: UInt8?
        if text.parts.count > 1 {
            reference = nextReference
            nextReference &+= 1
        }
        var messageIDs: [String] = []
        for (index, part) in text.parts.enumerated() {
            var shortMessage = SMPPShortMessage()
            shortMessage.sourceAddress = message.source ?? configuration.sourceAddress
            shortMessage.sourceAddressTON = configuration.sourceAddressTON
            shortMessage.sourceAddressNPI = configuration.sourceAddressNPI
            shortMessage.destinationAddress = message.destination
            shortMessage.destinationAddressTON = configuration.destinationAddressTON
            shortMessage.destinationAddressNPI = configuration.destinationAddressNPI
            shortMessage.dataCoding = text.dataCoding.rawValue
            shortMessage.registeredDelivery = configuration.requestDeliveryReceipts ? 1 : 0
            if let reference {
                let header = ConcatenationHeader(
                    reference: reference, totalParts: UInt8(text.parts.count), partNumber: UInt8(index + 1))
                shortMessage.esmClass |= SMPPShortMessage.udhIndicator
                shortMessage.shortMessage = header.bytes + part.payload
            } else {
                shortMessage.shortMessage = part.payload
            }
            messageIDs.append(try await submitPart(shortMessage, part: index + 1))
        }
        return SMPPSubmission(messageIDs: messageIDs, dataCoding: text.dataCoding, concatenationReference: reference)
    }

    private func submitPart(_ shortMessage: SMPPShortMessage, part: Int) async throws -> String {
        var backOffs = 0
        while true {
            try await waitUntilBound()
            await acquireSlot()
            guard machine.isBound else {
                releaseSlot()
                continue
            }
            let response: SMPPPDU
            do {
                response = try await sendRequest(.submitSM(shortMessage))
                releaseSlot()
            } catch RequestFailure.notSent {
                // Never left this host: safe to send after the next bind.
                releaseSlot()
                continue
            } catch RequestFailure.timeout {
                releaseSlot()
                throw SMPPError.responseTimeout(part: part)
            } catch {
                releaseSlot()
                throw SMPPError.connectionLost(part: part)
            }
            if response.status == .ok {
                statistics.acceptedParts += 1
                if case .submitSMResp(let messageID) = response.body { return messageID }
                return ""
            }
            guard response.status.asksForBackOff else {
                throw SMPPError.rejected(status: response.status, part: part)
            }
            statistics.backOffResponses += 1
            backOffs += 1
            guard backOffs <= configuration.maximumThrottleRetries else {
                throw SMPPError.stillThrottled(status: response.status, part: part)
            }
            let delay = configuration.throttleBackoff.delay(afterFailures: backOffs)
            logger.info("SMPP back-off", metadata: ["status": "\(response.status)", "after": "\(delay)"])
            try? await Task.sleep(for: delay)
        }
    }
}
