import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypes

/// What one client may hold of the server: how long it may take to send a request's head, how long a kept-alive
/// connection may sit idle, and how many connections are open at once. Without them a slow client ("slowloris")
/// holds a descriptor and a little memory for as long as it likes: 1,000 half-sent requests held 1,000 descriptors.
public struct ConnectionLimits: Sendable, Equatable {
    /// The head of the first request on a connection must be complete this long after the connection opens.
    public var headerTimeout: Duration
    /// A connection with nothing in flight (between kept-alive requests, or a request body that stops coming) is
    /// closed after this long. The next request's head must be complete within it.
    public var idleTimeout: Duration
    /// Connections open at once. At the cap the server stops accepting (new ones wait in the kernel's listen
    /// backlog) and logs a warning once, until it falls below again.
    public var maximumConnections: Int

    public static let defaultHeaderTimeout: Duration = .seconds(10)
    public static let defaultIdleTimeout: Duration = .seconds(60)
    public static let defaultMaximumConnections = 1024

    public init(headerTimeout: Duration = defaultHeaderTimeout, idleTimeout: Duration = defaultIdleTimeout,
                maximumConnections: Int = defaultMaximumConnections) {
        self.headerTimeout = headerTimeout
        self.idleTimeout = idleTimeout
        self.maximumConnections = maximumConnections
    }

    /// The HTTP/1.1 server with these limits.
    func http1Server() -> HTTPServerBuilder {
        let headerTimeout = TimeAmount(headerTimeout)
        let idleTimeout = TimeAmount(self.idleTimeout)
        return .http1(configuration: .init(
            additionalChannelHandlers: [RequestHeadTimeoutHandler(firstHead: headerTimeout, nextHead: idleTimeout)],
            idleTimeout: idleTimeout))
    }
}

/// Closes a connection whose request head does not arrive in time: `firstHead` after the connection opens, and
/// `nextHead` after each response ends (a kept-alive connection). Hummingbird's own idle timer restarts only
/// when an HTTP part is decoded, and a head that never completes is never decoded; this handler's deadline does
/// not move until a head arrives.
final class RequestHeadTimeoutHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let firstHead: TimeAmount
    private let nextHead: TimeAmount
    private var deadline: Scheduled<Void>?
    /// Requests whose head was read and whose response has not ended (pipelining may make it more than one).
    private var inFlight = 0

    init(firstHead: TimeAmount, nextHead: TimeAmount) {
        self.firstHead = firstHead
        self.nextHead = nextHead
    }

    func handlerAdded(context: ChannelHandlerContext) {
        arm(context, after: firstHead)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = unwrapInboundIn(data) {
            inFlight += 1
            deadline?.cancel()
            deadline = nil
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            inFlight = max(0, inFlight - 1)
            if inFlight == 0 { arm(context, after: nextHead) }
        }
        context.write(data, promise: promise)
    }

    private func arm(_ context: ChannelHandlerContext, after delay: TimeAmount) {
        deadline?.cancel()
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: delay) { channel.close(promise: nil) }
    }
}

/// Counts open connections for Hummingbird's accept loop and logs when the cap is reached (once per time it is
/// reached, so a flood does not flood the log too).
struct ConnectionCap: AvailableConnectionsDelegate {
    let maximum: Int
    let logger: Logger
    var open = 0

    init(maximum: Int, logger: Logger) {
        self.maximum = maximum
        self.logger = logger
    }

    mutating func connectionOpened() {
        open += 1
        if open == maximum {
            logger.warning("Connection cap reached: new connections wait in the listen backlog until some close",
                           metadata: ["open": "\(open)", "cap": "\(maximum)"])
        }
    }

    mutating func connectionClosed() {
        open -= 1
    }

    func isAcceptingNewConnections() -> Bool {
        open < maximum
    }
}
