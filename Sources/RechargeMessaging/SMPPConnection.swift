import NIOCore
import NIOPosix
import NIOSSL

/// One TCP (or TLS) link to an SMSC, framed into PDUs. The inbound PDUs arrive on `inbound`, which
/// finishes when the link closes.
struct SMPPConnection: Sendable {
    let channel: any Channel
    let inbound: AsyncStream<SMPPPDU>

    static func open(configuration: SMPPConfiguration, group: any EventLoopGroup) async throws -> SMPPConnection {
        let (stream, continuation) = AsyncStream.makeStream(of: SMPPPDU.self, bufferingPolicy: .unbounded)
        var sslContext: NIOSSLContext?
        if let tls = configuration.tls { sslContext = try NIOSSLContext(configuration: tls) }
        let serverName = configuration.tlsServerName ?? (configuration.host.isIPAddress ? nil : configuration.host)
        let context = sslContext
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(configuration.connectTimeout.timeAmount)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let context {
                        try channel.pipeline.syncOperations.addHandler(
                            NIOSSLClientHandler(context: context, serverHostname: serverName))
                    }
                    try channel.pipeline.syncOperations.addHandlers(
                        ByteToMessageHandler(SMPPPDUDecoder()),
                        MessageToByteHandler(SMPPPDUEncoder()),
                        SMPPInboundBridge(continuation: continuation))
                }
            }
        do {
            let channel = try await bootstrap.connect(host: configuration.host, port: configuration.port).get()
            return SMPPConnection(channel: channel, inbound: stream)
        } catch {
            continuation.finish()
            throw error
        }
    }
}

/// Hands decoded PDUs to the client's actor through an AsyncStream, and ends the stream with the link.
final class SMPPInboundBridge: ChannelInboundHandler {
    typealias InboundIn = SMPPPDU
    let continuation: AsyncStream<SMPPPDU>.Continuation

    init(continuation: AsyncStream<SMPPPDU>.Continuation) {
        self.continuation = continuation
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        continuation.yield(unwrapInboundIn(data))
    }

    func channelInactive(context: ChannelHandlerContext) {
        continuation.finish()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        continuation.finish()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A framing error leaves the stream out of step; the only recovery is a new link.
        context.close(promise: nil)
    }
}

extension Duration {
    var timeAmount: TimeAmount {
        let (seconds, attoseconds) = components
        return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}

extension String {
    var isIPAddress: Bool {
        (try? SocketAddress(ipAddress: self, port: 0)) != nil
    }
}
