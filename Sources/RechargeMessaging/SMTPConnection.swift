import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS

/// One connection to an SMTP server: writes command lines and hands back whole replies, each within a
/// timeout. STARTTLS is done in place by putting a TLS handler at the front of the pipeline.
struct SMTPConnection: Sendable {
    let channel: any Channel
    private let handler: NIOLoopBound<SMTPReplyHandler>

    static func open(configuration: SMTPConfiguration, group: any EventLoopGroup) async throws -> SMTPConnection {
        var implicitTLS: NIOSSLContext?
        if case .implicitTLS(let tls) = configuration.security {
            implicitTLS = try NIOSSLContext(configuration: tls)
        }
        let sslContext = implicitTLS
        let serverName = configuration.serverNameForTLS
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(configuration.connectTimeout.timeAmount)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let sslContext {
                        try channel.pipeline.syncOperations.addHandler(
                            NIOSSLClientHandler(context: sslContext, serverHostname: serverName))
                    }
                    try channel.pipeline.syncOperations.addHandlers(
                        ByteToMessageHandler(SMTPReplyDecoder()), SMTPReplyHandler())
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: configuration.host, port: configuration.port).get()
        } catch {
            throw SMTPError.connectionFailed("\(configuration.host):\(configuration.port): \(error)")
        }
        let handler = try await channel.eventLoop.submit {
            NIOLoopBound(
                try channel.pipeline.syncOperations.handler(type: SMTPReplyHandler.self), eventLoop: channel.eventLoop)
        }.get()
        return SMTPConnection(channel: channel, handler: handler)
    }

    func nextReply(stage: SMTPStage, timeout: Duration) async throws -> SMTPReply {
        let promise = channel.eventLoop.makePromise(of: SMTPReply.self)
        let handler = self.handler
        channel.eventLoop.execute {
            handler.value.awaitReply(stage: stage, timeout: timeout.timeAmount, promise: promise)
        }
        return try await promise.futureResult.get()
    }

    func write(_ text: String, stage: SMTPStage) async throws {
        var buffer = channel.allocator.buffer(capacity: text.utf8.count)
        buffer.writeString(text)
        do {
            try await channel.writeAndFlush(buffer)
        } catch {
            throw SMTPError.connectionClosed(stage: stage)
        }
    }

    /// Sends one command line and waits for its reply.
    func command(_ line: String, stage: SMTPStage, timeout: Duration) async throws -> SMTPReply {
        try await write(line + "\r\n", stage: stage)
        return try await nextReply(stage: stage, timeout: timeout)
    }

    /// Puts TLS under the conversation after the server's 220 to STARTTLS.
    func startTLS(_ configuration: TLSConfiguration, serverName: String?) async throws {
        let context: NIOSSLContext
        do { context = try NIOSSLContext(configuration: configuration) } catch {
            throw SMTPError.tlsFailed("\(error)")
        }
        let handshake = channel.eventLoop.makePromise(of: Void.self)
        let handler = self.handler
        try await channel.eventLoop.submit {
            handler.value.awaitTLSHandshake(handshake)
            try channel.pipeline.syncOperations.addHandler(
                NIOSSLClientHandler(context: context, serverHostname: serverName), position: .first)
        }.get()
        // Waiting here, rather than letting the next command queue behind the handshake, makes a refused
        // certificate a TLS error instead of a connection that merely closed at EHLO.
        try await handshake.futureResult.get()
    }

    func close() async {
        try? await channel.close()
    }
}

extension SMTPConfiguration {
    var serverNameForTLS: String? {
        tlsServerName ?? (host.isIPAddress ? nil : host)
    }
}

/// Splits the byte stream into lines (CRLF, or a bare LF from lenient servers) and lines into replies.
struct SMTPReplyDecoder: ByteToMessageDecoder {
    typealias InboundOut = SMTPReply
    private var parser = SMTPReplyParser()
    /// RFC 5321 §4.5.3.1.5 allows 512 octets per reply line; this leaves room for chatty servers.
    static let maximumLineLength = 8192

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else {
            if buffer.readableBytes > Self.maximumLineLength {
                throw SMTPError.malformedReply("line longer than \(Self.maximumLineLength) octets")
            }
            return .needMoreData
        }
        let length = newline - buffer.readableBytesView.startIndex
        var line = buffer.readString(length: length) ?? ""
        buffer.moveReaderIndex(forwardBy: 1)
        if line.hasSuffix("\r") { line.removeLast() }
        do {
            if let reply = try parser.feed(line: line) {
                context.fireChannelRead(Self.wrapInboundOut(reply))
            }
        } catch {
            throw SMTPError.malformedReply(error.line)
        }
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws
        -> DecodingState
    {
        while try decode(context: context, buffer: &buffer) == .continue {}
        buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
        return .needMoreData
    }
}

/// Queues replies and hands them to whoever waits, failing the wait on timeout, error or close.
final class SMTPReplyHandler: ChannelInboundHandler {
    typealias InboundIn = SMTPReply

    private var buffered: [SMTPReply] = []
    private var waiting: (stage: SMTPStage, promise: EventLoopPromise<SMTPReply>, timer: Scheduled<Void>)?
    private var failure: (any Error)?
    private var isClosed = false
    private var context: ChannelHandlerContext?
    private var tlsHandshake: EventLoopPromise<Void>?

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func awaitTLSHandshake(_ promise: EventLoopPromise<Void>) {
        tlsHandshake = promise
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let tlsEvent = event as? TLSUserEvent, case .handshakeCompleted = tlsEvent, let handshake = tlsHandshake {
            tlsHandshake = nil
            handshake.succeed()
        }
        context.fireUserInboundEventTriggered(event)
    }

    func awaitReply(stage: SMTPStage, timeout: TimeAmount, promise: EventLoopPromise<SMTPReply>) {
        if !buffered.isEmpty {
            promise.succeed(buffered.removeFirst())
            return
        }
        if let failure {
            promise.fail(failure)
            return
        }
        if isClosed {
            promise.fail(SMTPError.connectionClosed(stage: stage))
            return
        }
        guard let context else {
            promise.fail(SMTPError.connectionClosed(stage: stage))
            return
        }
        let timer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [weak self] in
            guard let self, let waiting = self.waiting else { return }
            self.waiting = nil
            waiting.promise.fail(SMTPError.timeout(stage: waiting.stage))
            // The conversation is out of step once a reply is late; nothing more can be trusted on it.
            self.context?.close(promise: nil)
        }
        waiting = (stage, promise, timer)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let reply = unwrapInboundIn(data)
        if let waiting {
            self.waiting = nil
            waiting.timer.cancel()
            waiting.promise.succeed(reply)
        } else {
            buffered.append(reply)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let mapped: any Error
        if let smtpError = error as? SMTPError {
            mapped = smtpError
        } else if error is NIOSSLError || error is NIOSSLExtraError || error is BoringSSLError {
            mapped = SMTPError.tlsFailed("\(error)")
        } else {
            mapped = SMTPError.connectionFailed("\(error)")
        }
        if let handshake = tlsHandshake {
            tlsHandshake = nil
            handshake.fail(SMTPError.tlsFailed("\(error)"))
        }
        failure = failure ?? mapped
        failWaiting(with: mapped)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        isClosed = true
        if let handshake = tlsHandshake {
            tlsHandshake = nil
            handshake.fail(failure ?? SMTPError.tlsFailed("connection closed during the TLS handshake"))
        }
        if let waiting {
            failWaiting(with: failure ?? SMTPError.connectionClosed(stage: waiting.stage))
        }
        context.fireChannelInactive()
    }

    private func failWaiting(with error: any Error) {
        guard let waiting else { return }
        self.waiting = nil
        waiting.timer.cancel()
        waiting.promise.fail(error)
    }
}
