import Logging
import NIOCore
import NIOPosix

/// The initiator side of Gy (a gateway's role): connects, exchanges capabilities, then sends requests pipelined on
/// the one connection and matches answers by hop-by-hop id. Answers the server's DWR and DPR itself and its RAR
/// through `onReAuth`. Used by the tests and by `recharge diameter load`.
public final class DiameterClient: Sendable {
    public let identity: DiameterIdentity
    /// The server as its CEA named it.
    public let peer: DiameterPeer
    let channel: any Channel
    let connection: NIOLoopBound<DiameterClientConnection>
    let requestTimeout: TimeAmount

    /// Called for each RAR from the server; returns the RAA's Result-Code.
    public typealias ReAuthHandler = @Sendable (ReAuthRequest) async -> DiameterResultCode

    private init(identity: DiameterIdentity, peer: DiameterPeer, channel: any Channel, connection: NIOLoopBound<DiameterClientConnection>, requestTimeout: TimeAmount) {
        self.identity = identity
        self.peer = peer
        self.channel = channel
        self.connection = connection
        self.requestTimeout = requestTimeout
    }

    /// Connects and completes CER/CEA (advertising DCCA); throws `capabilitiesRejected` when the CEA is not 2001.
    public static func connect(
        host: String, port: Int, identity: DiameterIdentity, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        maximumMessageSize: Int = 65_536, requestTimeout: TimeAmount = .seconds(10), onReAuth: ReAuthHandler? = nil
    ) async throws -> DiameterClient {
        let channel = try await ClientBootstrap(group: group)
            .connectTimeout(.seconds(5))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers(
                        ByteToMessageHandler(DiameterFrameDecoder(maximumMessageSize: maximumMessageSize)),
                        DiameterClientConnection(identity: identity, onReAuth: onReAuth))
                }
            }
            .connect(host: host, port: port).get()
        let connection = try await channel.eventLoop.submit {
            NIOLoopBound(try channel.pipeline.syncOperations.handler(type: DiameterClientConnection.self), eventLoop: channel.eventLoop)
        }.get()
        do {
            let cea = try await channel.eventLoop.flatSubmit {
                connection.value.send({ ids in
                    DiameterMessage(
                        flags: .request, commandCode: DiameterCommand.capabilitiesExchange, applicationID: DiameterApplication.common,
                        hopByHopID: ids.hopByHop, endToEndID: ids.endToEnd, avps: identity.capabilities())
                }, timeout: requestTimeout)
            }.get()
            guard let code = cea.resultCode, code == DiameterResultCode.success.rawValue else {
                throw DiameterError.capabilitiesRejected(cea.resultCode ?? 0)
            }
            let peer = DiameterPeer(originHost: cea.first(.originHost)?.utf8 ?? "", originRealm: cea.first(.originRealm)?.utf8 ?? "")
            return DiameterClient(identity: identity, peer: peer, channel: channel, connection: connection, requestTimeout: requestTimeout)
        } catch {
            try? await channel.close()
            throw error
        }
    }

    /// Sends a request built with fresh identifiers and returns its answer.
    public func request(_ build: @escaping @Sendable (_ hopByHop: UInt32, _ endToEnd: UInt32) -> DiameterMessage) async throws -> DiameterMessage {
        let timeout = requestTimeout
        let connection = connection
        return try await channel.eventLoop.flatSubmit {
            connection.value.send({ ids in build(ids.hopByHop, ids.endToEnd) }, timeout: timeout)
        }.get()
    }

    public func creditControl(_ request: CreditControlRequest) async throws -> CreditControlAnswer {
        let answer = try await self.request { hopByHop, endToEnd in request.message(hopByHopID: hopByHop, endToEndID: endToEnd) }
        do {
            return try CreditControlAnswer(message: answer)
        } catch {
            throw DiameterError.malformedAnswer(error.description)
        }
    }

    /// DWR → the DWA's Result-Code.
    public func watchdog() async throws -> UInt32 {
        let identity = identity
        let answer = try await request { hopByHop, endToEnd in
            DiameterMessage(
                flags: .request, commandCode: DiameterCommand.deviceWatchdog, applicationID: DiameterApplication.common,
                hopByHopID: hopByHop, endToEndID: endToEnd,
                avps: [.utf8(.originHost, identity.originHost), .utf8(.originRealm, identity.originRealm)])
        }
        return answer.resultCode ?? 0
    }

    /// DPR (Disconnect-Cause DO_NOT_WANT_TO_TALK_TO_YOU, 2), waits for the DPA, closes.
    public func disconnect() async {
        let identity = identity
        _ = try? await request { hopByHop, endToEnd in
            DiameterMessage(
                flags: .request, commandCode: DiameterCommand.disconnectPeer, applicationID: DiameterApplication.common,
                hopByHopID: hopByHop, endToEndID: endToEnd,
                avps: [.utf8(.originHost, identity.originHost), .utf8(.originRealm, identity.originRealm), .enumerated(.disconnectCause, 2)])
        }
        try? await channel.close()
    }

    /// Completes when the connection is closed (by either side).
    public func closed() async {
        try? await channel.closeFuture.get()
    }

    public var isActive: Bool { channel.isActive }
}

/// The client's channel handler, confined to its event loop.
final class DiameterClientConnection: ChannelInboundHandler {
    typealias InboundIn = DiameterFrame
    typealias OutboundOut = ByteBuffer

    private let identity: DiameterIdentity
    private let onReAuth: DiameterClient.ReAuthHandler?
    private var context: ChannelHandlerContext?
    private var pending: [UInt32: EventLoopPromise<DiameterMessage>] = [:]
    private var nextHopByHop = UInt32.random(in: 1...UInt32.max / 2)
    private var nextEndToEnd = UInt32.random(in: 1...UInt32.max / 2)

    init(identity: DiameterIdentity, onReAuth: DiameterClient.ReAuthHandler?) {
        self.identity = identity
        self.onReAuth = onReAuth
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) {
        failAll()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll()
        context.fireChannelInactive()
    }

    private func failAll() {
        let waiting = pending
        pending = [:]
        for promise in waiting.values { promise.fail(DiameterError.connectionClosed) }
    }

    func send(_ build: (_ ids: (hopByHop: UInt32, endToEnd: UInt32)) -> DiameterMessage, timeout: TimeAmount) -> EventLoopFuture<DiameterMessage> {
        guard let context, context.channel.isActive else {
            return MultiThreadedEventLoopGroup.singleton.any().makeFailedFuture(DiameterError.connectionClosed)
        }
        nextHopByHop &+= 1
        nextEndToEnd &+= 1
        let hopByHop = nextHopByHop
        let promise = context.eventLoop.makePromise(of: DiameterMessage.self)
        pending[hopByHop] = promise
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let timer = context.eventLoop.scheduleTask(in: timeout) {
            loopBound.value.pending.removeValue(forKey: hopByHop)?.fail(DiameterError.timedOut)
        }
        promise.futureResult.whenComplete { _ in timer.cancel() }
        write(build((hopByHop, nextEndToEnd)))
        return promise.futureResult
    }

    private func write(_ message: DiameterMessage) {
        guard let context else { return }
        var buffer = context.channel.allocator.buffer(capacity: 512)
        DiameterCodec.encode(message, into: &buffer)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let message: DiameterMessage
        switch unwrapInboundIn(data) {
        case .invalid:
            context.close(promise: nil)
            return
        case .message(let bytes):
            do {
                message = try DiameterCodec.decode(bytes)
            } catch {
                if let header = error.header, header.flags.contains(.request) {
                    write(identity.answer(to: header, requestAVPs: error.partial, code: error.resultCode, errorMessage: error.reason, failedAVP: error.failedAVP))
                } else if let header = error.header {
                    pending.removeValue(forKey: header.hopByHopID)?.fail(DiameterError.malformedAnswer(error.reason))
                }
                return
            }
        }
        guard message.isRequest else {
            pending.removeValue(forKey: message.hopByHopID)?.succeed(message)
            return
        }
        switch (message.applicationID, message.commandCode) {
        case (DiameterApplication.common, DiameterCommand.deviceWatchdog):
            write(identity.answer(to: message.header, requestAVPs: [], code: .success))
        case (DiameterApplication.common, DiameterCommand.disconnectPeer):
            let channel = context.channel
            var buffer = channel.allocator.buffer(capacity: 128)
            DiameterCodec.encode(identity.answer(to: message.header, requestAVPs: [], code: .success), into: &buffer)
            context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { _ in channel.close(promise: nil) }
        case (DiameterApplication.creditControl, DiameterCommand.reAuth):
            reAuth(message, context: context)
        default:
            write(identity.answer(to: message.header, requestAVPs: message.avps, code: .commandUnsupported))
        }
    }

    private func reAuth(_ message: DiameterMessage, context: ChannelHandlerContext) {
        let identity = identity
        let header = message.header
        let sessionAVPs = message.first(.sessionID).map { [$0] } ?? []
        guard let onReAuth, let request = try? ReAuthRequest(message: message) else {
            write(identity.answer(to: header, requestAVPs: sessionAVPs, code: .unableToComply))
            return
        }
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let eventLoop = context.eventLoop
        Task {
            let code = await onReAuth(request)
            eventLoop.execute {
                loopBound.value.write(identity.answer(to: header, requestAVPs: sessionAVPs, code: code))
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
