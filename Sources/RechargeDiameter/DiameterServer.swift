import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// What the charging engine implements: one answer per CCR. Called concurrently, from any task; the answer for a
/// slow request does not hold up the others on the same connection (they are matched by hop-by-hop id).
public protocol CreditControlHandler: Sendable {
    func creditControl(_ request: CreditControlRequest, peer: DiameterPeer) async -> CreditControlAnswer
}

/// The server's settings. The limits bound what one peer can make this node hold: bytes per message, requests in
/// flight per connection (beyond it, 3004 DIAMETER_TOO_BUSY, RFC 6733 §7.1.3), and connections.
public struct DiameterServerConfiguration: Sendable {
    public var host: String
    public var port: Int
    public var identity: DiameterIdentity
    public var maximumMessageSize: Int
    public var maximumOutstandingRequestsPerConnection: Int
    public var maximumConnections: Int
    /// Tw of RFC 3539: silence for this long brings a DWR; a further interval without answer closes.
    public var watchdogInterval: TimeAmount
    /// How long `reAuth` waits for the RAA.
    public var requestTimeout: TimeAmount

    public init(
        host: String = "0.0.0.0", port: Int = 3868, identity: DiameterIdentity, maximumMessageSize: Int = 65_536,
        maximumOutstandingRequestsPerConnection: Int = 1_024, maximumConnections: Int = 64, watchdogInterval: TimeAmount = .seconds(30),
        requestTimeout: TimeAmount = .seconds(5)
    ) {
        self.host = host
        self.port = port
        self.identity = identity
        self.maximumMessageSize = maximumMessageSize
        self.maximumOutstandingRequestsPerConnection = maximumOutstandingRequestsPerConnection
        self.maximumConnections = maximumConnections
        self.watchdogInterval = watchdogInterval
        self.requestTimeout = requestTimeout
    }
}

/// Errors of the server's and client's own requests, with stable codes.
public enum DiameterError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No open connection from a peer with this Origin-Host.
    case unknownPeer(String)
    case timedOut
    case connectionClosed
    /// The server answered our CER with this Result-Code.
    case capabilitiesRejected(UInt32)
    /// The peer's answer did not decode.
    case malformedAnswer(String)
    /// The server was shut down; it does not start again.
    case shutDown

    public var code: String {
        switch self {
        case .unknownPeer: "diameter_unknown_peer"
        case .timedOut: "diameter_timed_out"
        case .connectionClosed: "diameter_connection_closed"
        case .capabilitiesRejected: "diameter_capabilities_rejected"
        case .malformedAnswer: "diameter_malformed_answer"
        case .shutDown: "diameter_shut_down"
        }
    }

    public var description: String {
        switch self {
        case .unknownPeer(let host): "no open Diameter connection from \(host)"
        case .timedOut: "no answer in time"
        case .connectionClosed: "the Diameter connection closed"
        case .capabilitiesRejected(let code): "CER answered with Result-Code \(code)"
        case .malformedAnswer(let reason): "malformed answer: \(reason)"
        case .shutDown: "the Diameter server has been shut down"
        }
    }
}

/// The OCS side of Gy: accepts gateway connections (CER/CEA, DWR/DWA, DPR/DPA through `DiameterPeerStateMachine`),
/// hands each CCR to the `CreditControlHandler`, and sends RARs to open peers. `start()` binds (port 0 picks a free
/// one and returns it), `run()` waits until `shutdown()`, which sends DPR to every open peer and closes.
public final class DiameterServer: Sendable {
    public let configuration: DiameterServerConfiguration
    let handler: any CreditControlHandler
    let group: any EventLoopGroup
    let logger: Logger
    let state = NIOLockedValueBox(Registry())

    struct Registry {
        var listener: (any Channel)?
        var connections: [ObjectIdentifier: ConnectionRef] = [:]
        var byOriginHost: [String: (connection: ObjectIdentifier, peer: DiameterPeer)] = [:]
        var connectionCount = 0
        var stopped = false
        /// `shutdown()` has finished; `run()` callers waiting for it.
        var finished = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    struct ConnectionRef: Sendable {
        let channel: any Channel
        let connection: NIOLoopBound<DiameterServerConnection>
    }

    public init(
        configuration: DiameterServerConfiguration, handler: some CreditControlHandler,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger = Logger(label: "recharge.diameter")
    ) {
        self.configuration = configuration
        self.handler = handler
        self.group = group
        self.logger = logger
    }

    /// Binds and starts accepting; returns the bound port.
    @discardableResult
    public func start() async throws -> Int {
        let (stopped, bound) = state.withLockedValue { ($0.stopped, $0.listener?.localAddress?.port) }
        guard !stopped else { throw DiameterError.shutDown }
        if let bound { return bound }
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try self.accept(channel)
                }
            }
        let listener = try await bootstrap.bind(host: configuration.host, port: configuration.port).get()
        state.withLockedValue { $0.listener = listener }
        logger.info("Diameter listening", metadata: ["address": "\(listener.localAddress?.description ?? "?")"])
        return listener.localAddress?.port ?? configuration.port
    }

    /// Starts if needed, then returns when the server has been shut down.
    public func run() async throws {
        if state.withLockedValue({ $0.stopped }) { return }
        try await start()
        await withCheckedContinuation { continuation in
            state.withLockedValue { registry in
                if registry.finished { continuation.resume() } else { registry.waiters.append(continuation) }
            }
        }
    }

    /// DPR to every open peer (waiting up to `grace` for their DPAs), then closes all connections and the listener.
    public func shutdown(grace: TimeAmount = .seconds(2)) async {
        let (listener, connections) = state.withLockedValue { registry in
            registry.stopped = true
            return (registry.listener, Array(registry.connections.values))
        }
        try? await listener?.close()
        for ref in connections {
            ref.channel.eventLoop.execute { ref.connection.value.disconnect() }
        }
        let deadline = NIODeadline.now() + grace
        for ref in connections {
            let remaining = deadline - NIODeadline.now()
            if remaining > .zero {
                let timeout = ref.channel.eventLoop.scheduleTask(in: remaining) { ref.channel.close(promise: nil) }
                try? await ref.channel.closeFuture.get()
                timeout.cancel()
            } else {
                try? await ref.channel.close()
            }
        }
        let waiting = state.withLockedValue { registry in
            defer { registry.waiters.removeAll() }
            registry.finished = true
            return registry.waiters
        }
        for continuation in waiting { continuation.resume() }
    }

    /// The peers with an open connection.
    public var openPeers: [DiameterPeer] {
        state.withLockedValue { registry in registry.byOriginHost.values.map(\.peer) }.sorted { $0.originHost < $1.originHost }
    }

    /// Sends a Re-Auth-Request (AUTHORIZE_ONLY) for `sessionID` to the open connection from `peerOriginHost` and
    /// returns the RAA's Result-Code (RFC 4006 §5.5: after a top-up, so the gateway re-authorises with a CCR-U).
    public func reAuth(sessionID: String, peerOriginHost: String, destinationRealm: String) async throws -> UInt32 {
        guard let ref = state.withLockedValue({ registry in registry.byOriginHost[peerOriginHost].flatMap { registry.connections[$0.connection] } })
        else { throw DiameterError.unknownPeer(peerOriginHost) }
        let request = ReAuthRequest(
            sessionID: sessionID, originHost: configuration.identity.originHost, originRealm: configuration.identity.originRealm,
            destinationRealm: destinationRealm, destinationHost: peerOriginHost)
        let timeout = configuration.requestTimeout
        let answer = try await ref.channel.eventLoop.flatSubmit {
            ref.connection.value.send(request: { ids in request.message(hopByHopID: ids.hopByHop, endToEndID: ids.endToEnd) }, timeout: timeout)
        }.get()
        do {
            return try ReAuthAnswer(message: answer).resultCode.rawValue
        } catch {
            throw DiameterError.malformedAnswer(error.description)
        }
    }

    // MARK: Connections

    private func accept(_ channel: any Channel) throws {
        let admitted = state.withLockedValue { registry -> Bool in
            guard !registry.stopped, registry.connectionCount < configuration.maximumConnections else { return false }
            registry.connectionCount += 1
            return true
        }
        guard admitted else {
            logger.warning("Diameter connection refused: at the connection limit", metadata: ["limit": "\(configuration.maximumConnections)"])
            channel.close(promise: nil)
            return
        }
        let connection = DiameterServerConnection(server: self)
        try channel.pipeline.syncOperations.addHandlers(
            ByteToMessageHandler(DiameterFrameDecoder(maximumMessageSize: configuration.maximumMessageSize)), connection)
        let id = ObjectIdentifier(connection)
        let ref = ConnectionRef(channel: channel, connection: NIOLoopBound(connection, eventLoop: channel.eventLoop))
        state.withLockedValue { $0.connections[id] = ref }
        channel.closeFuture.whenComplete { [self] _ in
            state.withLockedValue { registry in
                registry.connections[id] = nil
                registry.connectionCount -= 1
                for (host, owner) in registry.byOriginHost where owner.connection == id { registry.byOriginHost[host] = nil }
            }
        }
    }

    /// A peer completed CER/CEA: later RARs for its Origin-Host go on this connection (the newest one wins).
    func opened(_ peer: DiameterPeer, connection: DiameterServerConnection) {
        let id = ObjectIdentifier(connection)
        state.withLockedValue { $0.byOriginHost[peer.originHost] = (id, peer) }
        logger.info("Diameter peer open", metadata: ["origin_host": "\(peer.originHost)", "origin_realm": "\(peer.originRealm)"])
    }
}

/// One accepted connection, confined to its event loop: drives the state machine, runs CCRs as tasks, matches
/// answers to our own requests by hop-by-hop id.
final class DiameterServerConnection: ChannelInboundHandler {
    typealias InboundIn = DiameterFrame
    typealias OutboundOut = ByteBuffer

    /// Strong: the server's registry drops this connection when its channel closes, which breaks the cycle.
    private let server: DiameterServer
    private var machine: DiameterPeerStateMachine
    private var context: ChannelHandlerContext?
    private var outstanding = 0
    private var pending: [UInt32: EventLoopPromise<DiameterMessage>] = [:]
    private var watchdog: RepeatedTask?

    init(server: DiameterServer) {
        self.server = server
        machine = DiameterPeerStateMachine(identity: server.configuration.identity)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let interval = server.configuration.watchdogInterval
        watchdog = context.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            let connection = loopBound.value
            connection.perform(connection.machine.watchdogTick())
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        teardown()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        teardown()
        context.fireChannelInactive()
    }

    private func teardown() {
        watchdog?.cancel()
        watchdog = nil
        machine.closed()
        let waiting = pending
        pending = [:]
        for promise in waiting.values { promise.fail(DiameterError.connectionClosed) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .invalid(let error):
            server.logger.warning("Diameter frame refused", metadata: ["reason": "\(error.reason)"])
            perform(machine.received(error: error, framing: true))
        case .message(let bytes):
            do {
                let message = try DiameterCodec.decode(bytes)
                perform(machine.received(message))
            } catch {
                server.logger.notice("Diameter message refused", metadata: ["reason": "\(error.reason)"])
                perform(machine.received(error: error, framing: false))
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        server.logger.debug("Diameter connection error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }

    func disconnect() { perform(machine.disconnect()) }

    /// Sends a request of ours (the closure builds it with fresh identifiers) and waits for its answer.
    func send(request build: (_ ids: (hopByHop: UInt32, endToEnd: UInt32)) -> DiameterMessage, timeout: TimeAmount) -> EventLoopFuture<DiameterMessage> {
        guard let context, machine.peer != nil else {
            return server.group.any().makeFailedFuture(DiameterError.connectionClosed)
        }
        let ids = machine.nextIdentifiers()
        let promise = context.eventLoop.makePromise(of: DiameterMessage.self)
        pending[ids.hopByHop] = promise
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let timer = context.eventLoop.scheduleTask(in: timeout) {
            loopBound.value.pending.removeValue(forKey: ids.hopByHop)?.fail(DiameterError.timedOut)
        }
        promise.futureResult.whenComplete { _ in timer.cancel() }
        write(build(ids))
        return promise.futureResult
    }

    private func write(_ message: DiameterMessage) {
        guard let context else { return }
        var buffer = context.channel.allocator.buffer(capacity: 512)
        DiameterCodec.encode(message, into: &buffer)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }

    private func perform(_ action: DiameterPeerStateMachine.Action) {
        switch action {
        case .none:
            break
        case .send(let message):
            write(message)
        case .sendAndClose(let message):
            guard let context else { return }
            var buffer = context.channel.allocator.buffer(capacity: 512)
            DiameterCodec.encode(message, into: &buffer)
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { _ in channel.close(promise: nil) }
        case .close:
            context?.close(promise: nil)
        case .open(let peer, let answer):
            server.opened(peer, connection: self)
            write(answer)
        case .dispatch(let message):
            dispatch(message)
        case .answerReceived(let answer):
            pending.removeValue(forKey: answer.hopByHopID)?.succeed(answer)
        }
    }

    private func dispatch(_ message: DiameterMessage) {
        guard let context, let peer = machine.peer else { return }
        let identity = server.configuration.identity
        let request: CreditControlRequest
        do {
            request = try CreditControlRequest(message: message)
        } catch {
            write(identity.answer(
                to: message.header, requestAVPs: message.avps, code: error.resultCode, errorMessage: error.reason, failedAVP: error.failedAVP))
            return
        }
        guard outstanding < server.configuration.maximumOutstandingRequestsPerConnection else {
            write(identity.answer(
                to: message.header, requestAVPs: message.avps, code: .tooBusy,
                errorMessage: "more than \(server.configuration.maximumOutstandingRequestsPerConnection) requests in flight"))
            return
        }
        outstanding += 1
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let eventLoop = context.eventLoop
        let handler = server.handler
        Task {
            let answer = await handler.creditControl(request, peer: peer)
            let reply = answer.message(answering: request, identity: identity)
            eventLoop.execute {
                let connection = loopBound.value
                connection.outstanding -= 1
                connection.write(reply)
            }
        }
    }
}
